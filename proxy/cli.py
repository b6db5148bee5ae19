"""The ``mmguard`` command."""

from __future__ import annotations

import argparse
import os
import sys

from proxy.config import ConfigError, load_config
from proxy.policy import PolicyError


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ["MMGUARD_CONFIG"] = args.config  # workers re-read it through app_from_env
    config = load_config()
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    if args.workers > 1:
        uvicorn.run("proxy.app:app_from_env", factory=True, host=host, port=port, workers=args.workers, log_level=args.log_level)
        return 0
    from proxy.app import create_app

    uvicorn.run(create_app(config), host=host, port=port, log_level=args.log_level)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bench.demo import run_demo

    run_demo(load_config(args.config))
    return 0


def _perf(args: argparse.Namespace) -> int:
    from bench.perf import measure_text_overhead, print_report, to_json

    report = measure_text_overhead(requests=args.requests, transport=args.transport)
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            f.write(to_json(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmguard", description="A guard proxy for multimodal LLMs, and the benchmark that measures it.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the OpenAI-compatible guard proxy")
    serve.add_argument("--config", help="YAML config (default: $MMGUARD_CONFIG, else the embedded simulated model)")
    serve.add_argument("--host", help="bind address (default: config server.host, or $MMGUARD_HOST)")
    serve.add_argument("--port", type=int, help="port (default: config server.port, or $MMGUARD_PORT)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    demo = sub.add_parser("demo", help="attack the embedded simulated model through the proxy, offline")
    demo.add_argument("--config", help="YAML config (default: the embedded simulated model)")
    demo.set_defaults(run=_demo)

    perf = sub.add_parser("perf", help="measure the latency the proxy adds, against a loopback upstream")
    perf.add_argument("--requests", type=int, default=1000, help="timed requests each way (after 100 warm-up)")
    perf.add_argument("--transport", default="auto", choices=["auto", "direct", "litellm"], help="how the proxy reaches the upstream")
    perf.add_argument("--json", help="also write the figures to this file")
    perf.set_defaults(run=_perf)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, PolicyError) as err:
        print(f"mmguard: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
