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


def _check(args: argparse.Namespace) -> int:
    from proxy.check import run
    from proxy.policy import load_policy

    if not args.jsonl and not args.image and not args.text:
        print("mmguard check: give --text, --image or --jsonl", file=sys.stderr)
        return 2
    return run(load_policy(args.policy), args.text or "", args.image or [], args.jsonl, args.json)


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from proxy.classifier.train import run

    out = Path(args.out) if args.out else Path(__file__).parent / "classifier"
    run(out, c=args.c)
    return 0


def _perf(args: argparse.Namespace) -> int:
    from bench.perf import measure_text_overhead, print_report, to_json

    report = measure_text_overhead(requests=args.requests, transport=args.transport)
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            f.write(to_json(report))
    return 0


def _perf_guard(args: argparse.Namespace) -> int:
    from bench.guard_speed import measure, print_rows

    print_rows(measure(args.n))
    return 0


def _eval_guard(args: argparse.Namespace) -> int:
    from bench.guard_eval import evaluate, print_tallies

    print_tallies(evaluate(args.policy))
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

    check = sub.add_parser("check", help="the guard's decision on text and images, as the proxy would decide")
    check.add_argument("--text", help="the user's text")
    check.add_argument("--image", nargs="+", help="image files")
    check.add_argument("--jsonl", help='file (or - for stdin) of {"id", "text", "images": [paths]} lines; one decision per line')
    check.add_argument("--policy", default="default", help="bundled policy name or YAML file (default: default)")
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.set_defaults(run=_check)

    train = sub.add_parser("train-classifier", help="train the default classifier's head on the project's labelled set")
    train.add_argument("--out", help="folder for head.npz and head_report.json (default: the installed proxy/classifier)")
    train.add_argument("--c", type=float, default=4.0, help="inverse regularisation strength of the logistic regression")
    train.set_defaults(run=_train)

    perf = sub.add_parser("perf", help="measure the latency the proxy adds, against a loopback upstream")
    perf.add_argument("--requests", type=int, default=1000, help="timed requests each way (after 100 warm-up)")
    perf.add_argument("--transport", default="auto", choices=["auto", "direct", "litellm"], help="how the proxy reaches the upstream")
    perf.add_argument("--json", help="also write the figures to this file")
    perf.set_defaults(run=_perf)

    perf_guard = sub.add_parser("perf-guard", help="the guard's cost per request (decode, OCR, classify) on one core")
    perf_guard.add_argument("-n", type=int, default=60, help="distinct images per measurement")
    perf_guard.set_defaults(run=_perf_guard)

    eval_guard = sub.add_parser("eval-guard", help="the guard's detection rates on rendered held-out examples, per typography form")
    eval_guard.add_argument("--policy", default="default", help="bundled policy name or YAML file")
    eval_guard.set_defaults(run=_eval_guard)
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
