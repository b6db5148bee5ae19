"""The ``mmguard`` command."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, TextIO

from bench.guard_sets import guard_sets, styles_help
from proxy.classifier.encoder import EncoderUnavailable
from proxy.config import ConfigError, load_config
from proxy.policy import PolicyError

if TYPE_CHECKING:
    from bench.run import BenchSettings


@contextmanager
def _shared_metrics_dir() -> Iterator[None]:
    """Where the workers pool their Prometheus metrics (multiprocess mode): $PROMETHEUS_MULTIPROC_DIR if the
    operator set it, else a fresh temporary folder, removed on exit. Set before any worker imports prometheus_client."""
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if chosen:
        os.makedirs(chosen, exist_ok=True)
        yield
        return
    path = tempfile.mkdtemp(prefix="mmguard-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    print(f"mmguard: workers share their metrics through {path}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(path, ignore_errors=True)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ["MMGUARD_CONFIG"] = args.config  # workers re-read it through app_from_env
    config = load_config()
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    if args.workers > 1:
        from proxy.runtime import Runtime

        Runtime.build(config)  # each worker loads the policies itself; a bad one must stop start-up here, not crash every worker
        with _shared_metrics_dir():
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
    if args.jsonl and (args.image or args.text):
        print("mmguard check: --jsonl reads the text and images of each line; give --text and --image without it", file=sys.stderr)
        return 2
    if args.jsonl not in (None, "-") and not os.path.isfile(args.jsonl):  # said before the models take seconds to load
        print(f"mmguard check: --jsonl {args.jsonl}: no such file", file=sys.stderr)
        return 2
    return run(load_policy(args.policy), args.text or "", args.image or [], args.jsonl, args.json)


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from proxy.classifier.adapter import ADAPTER_FILE
    from proxy.classifier.dataset import load_examples
    from proxy.classifier.train import SCENARIO_C, run

    extra = [Path(p) for p in args.extra]
    out = Path(args.out) if args.out else Path(__file__).parent / "classifier"
    try:  # a bad extra file or output folder is found now, not after the adapter's minutes of training
        load_examples(extra=extra)
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"{out}: the output folder is not writable")
        if args.keep_adapter and not (out / ADAPTER_FILE).is_file():
            raise FileNotFoundError(f"{out / ADAPTER_FILE}: --keep-adapter refits the heads on an adapter already in --out, and there is none")
    except (OSError, ValueError) as err:
        print(f"mmguard train-classifier: {err}", file=sys.stderr)
        return 2
    run(out, c=SCENARIO_C if args.c is None else args.c, keep_adapter=args.keep_adapter, anchor=args.anchor, extra=extra)
    return 0


def _bench(args: argparse.Namespace) -> int:
    """0 when every arm measured something (a few holes are for a rerun to fill), 1 when an arm answered
    no case at all (a wrong model or proxy: its row reads n/a), 2 for bad settings, 130 on Ctrl-C."""
    from bench.run import run_bench, unanswered_arms

    try:
        summary = run_bench(_bench_settings(args))
    except ValueError as err:  # bad settings, a dataset that is not what it claims, a missing env var
        print(f"mmguard bench: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmmguard bench: interrupted; the answers so far are kept: run the same command again to resume", file=sys.stderr)
        return 130
    empty = unanswered_arms(summary)
    if empty:
        print(f"mmguard bench: {'arm' if len(empty) == 1 else 'arms'} {', '.join(empty)} answered no case (every call failed or went unjudged; results.jsonl has each error, a judge's in judge_error): nothing was measured through it", file=sys.stderr)
        return 1
    return 0


def _bench_settings(args: argparse.Namespace) -> "BenchSettings":
    from pathlib import Path

    from bench.run import BenchSettings
    from bench.suite.attacks import parse_attacks
    from bench.targets import Target

    _check_judge_flags(args)
    target = Target(model=args.target, api_base=args.api_base, api_key_env=args.api_key_env)
    return BenchSettings(
        target=target,
        policy=args.policy,
        arms=tuple(dict.fromkeys(_comma_list(args.arms))),  # each once, as --attacks
        proxy_url=args.proxy_url,
        proxy_model=args.proxy_model,
        proxy_key_env=args.proxy_key_env,
        suite=args.suite,
        controls=args.controls,
        attacks=parse_attacks(args.attacks),
        scenarios=[s.strip() for s in args.scenarios.split(",")] if args.scenarios else None,
        limit=args.limit,
        seed=args.seed,
        judge=args.judge,
        judge_options=_judge_options(args),
        sd=args.sd,
        concurrency=args.concurrency,
        retries=args.retries,
        out=Path(args.out),
        name=args.name,
        fresh=args.fresh,
        cache=not args.no_cache,
        progress=not args.no_progress,
    )


def _judge(args: argparse.Namespace) -> int:
    if args.eval:
        from bench.judges.refusal_eval import evaluate, print_evaluation

        try:
            result = evaluate(args.eval if args.eval != "bundled" else None)
        except (OSError, ValueError) as err:  # a missing file, a line or row not in a labelled format
            print(f"mmguard judge: {err}", file=sys.stderr)
            return 2
        print_evaluation(result, sys.stdout)
        return 0
    if not args.jsonl:
        print("mmguard judge: give --jsonl FILE (or - for stdin), or --eval", file=sys.stderr)
        return 2
    from bench.judges.jsonl import judge_jsonl

    try:
        _check_judge_flags(args)
        return judge_jsonl(args.jsonl, args.judge, _judge_options(args), sys.stdout)
    except (OSError, ValueError) as err:  # a missing file, an llm judge without its model
        print(f"mmguard judge: {err}", file=sys.stderr)
        return 2


def _judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """The judge's options from the command line, for bench and judge alike; what is not given is left to the judge.

    ``--judge-api-base`` and ``--judge-api-key-env`` say where the judge models are and which variable holds
    their key, for the llm judge and for every juror of a jury (which share one endpoint, as a stub or a
    gateway does); a juror given without them stays a bare model string, as settings.json has always held it.
    """
    where = {k: v for k, v in {"api_base": args.judge_api_base, "api_key_env": args.judge_api_key_env}.items() if v is not None}
    if args.judge == "llm":
        options: dict[str, Any] = {"model": args.judge_model, **where}
    elif args.judge == "jury":
        options = {"jurors": [{"model": juror, **where} if where else juror for juror in args.juror or []], "rounds": args.rounds}
    else:
        options = {}
    return {k: v for k, v in options.items() if v is not None}


def _check_judge_flags(args: argparse.Namespace) -> None:
    """The llm judge needs its model; a judge's flag given for another judge is refused, since it would be ignored."""
    if args.judge == "llm" and not args.judge_model:
        raise ValueError("--judge llm needs --judge-model, the litellm model string of the judge (e.g. openai/gpt-4o)")
    if args.judge != "llm" and args.judge_model:
        raise ValueError(f"--judge-model is the llm judge's; with --judge {args.judge} it would be ignored (add --judge llm, or drop it)")
    if args.judge != "jury" and getattr(args, "juror", None):
        raise ValueError(f"--juror names a member of a jury; with --judge {args.judge} it would be ignored (add --judge jury, or drop it)")
    if args.judge == "refusal" and (args.judge_api_base or args.judge_api_key_env):
        raise ValueError("--judge-api-base and --judge-api-key-env reach a judge model; the refusal judge has none (add --judge llm or jury, or drop them)")


def _perf(args: argparse.Namespace) -> int:
    from bench.perf import PerfSettings, print_report, run_perf, to_json

    try:
        settings = PerfSettings(
            parts=_comma_list(args.only), requests=args.requests, image_requests=args.image_requests,
            concurrency=tuple(int(c) for c in _comma_list(args.concurrency)), seconds=args.seconds,
            images=args.images, image_concurrency=args.image_concurrency, workers=args.workers, transport=args.transport,
        )
    except ValueError as err:  # an unknown part, a concurrency that is not a number
        print(f"mmguard perf: {err}", file=sys.stderr)
        return 2
    report = run_perf(settings)
    return _finish(report, print_report, to_json, args.json)


def _soak(args: argparse.Namespace) -> int:
    from bench.soak import SoakSettings, print_report, run_soak, to_json

    report = run_soak(SoakSettings(clients=args.clients, seconds=args.seconds, sample_every=args.sample_every, workers=args.workers))
    return _finish(report, print_report, to_json, args.json)


def _finish(report: Any, print_report: Callable[[Any, TextIO], None], to_json: Callable[[Any], str], json_path: str | None) -> int:
    """Print a perf or soak report, write its JSON if asked; exit 1 if any request failed."""
    print_report(report, sys.stdout)
    if json_path:
        with open(json_path, "w") as f:
            f.write(to_json(report))
    return 1 if report.errors else 0


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _perf_guard(args: argparse.Namespace) -> int:
    from bench.guard_speed import measure, print_rows

    print_rows(measure(args.n))
    return 0


def _eval_guard(args: argparse.Namespace) -> int:
    from bench.guard_eval import evaluate, load_set, parse_forms, parse_sets, print_spared, print_summary, print_tallies, print_targets

    try:
        forms, names = parse_forms(args.forms), parse_sets(args.set)
        for name in names:  # every set is checked before the first is read: a typo in the last fails at once
            load_set(name)
    except (OSError, ValueError) as err:  # a missing set file, a line not in the labelled set's format, an unknown form
        print(f"mmguard eval-guard: {err}", file=sys.stderr)
        return 2
    results = {}
    for name in names:
        if results:
            print()
        results[name] = result = evaluate(args.policy, forms=forms, examples=name)
        print_tallies(result.tallies, examples=name, policy=args.policy)
        print_targets(result.targets)
        print_spared(result.spared)
        sys.stdout.flush()
    if len(results) > 1:
        print_summary(results)
    return 0


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least`` (a concurrency of 0 used to hang the bench)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmguard", description="A guard proxy for multimodal LLMs, and the benchmark that measures it.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the OpenAI-compatible guard proxy")
    serve.add_argument("--config", help="YAML config (default: $MMGUARD_CONFIG, else the embedded simulated model)")
    serve.add_argument("--host", help="bind address (default: config server.host, or $MMGUARD_HOST)")
    serve.add_argument("--port", type=int, help="port (default: config server.port, or $MMGUARD_PORT)")
    serve.add_argument("--workers", type=_at_least(1), default=1, help="uvicorn worker processes")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    demo = sub.add_parser("demo", help="attack the embedded simulated model through the proxy, offline")
    demo.add_argument("--config", help="YAML config (default: the embedded simulated model)")
    demo.set_defaults(run=_demo)

    check = sub.add_parser("check", help="the guard's decision on text and images, as the proxy would decide")
    check.add_argument("--text", help="the user's text")
    check.add_argument("--image", nargs="+", help="image files")
    check.add_argument("--jsonl", help='file (or - for stdin) of {"id", "text", "images": [paths]} lines; one decision per line, under the line\'s id (its line number when it has none)')
    check.add_argument("--policy", default="default", help="bundled policy name or YAML file (default: default)")
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.set_defaults(run=_check)

    train = sub.add_parser("train-classifier", help="train the default classifier (encoder adapter, then heads) on the project's labelled set")
    train.add_argument("--out", help="folder for adapter.npz, head.npz and head_report.json, made if missing (default: the installed proxy/classifier)")
    train.add_argument("--keep-adapter", action="store_true", help="refit only the heads, on the adapter already in --out (a minute or two, not 45)")
    train.add_argument("--anchor", type=float, default=0.0, help="weight of the loss that keeps the tuned features near the plain encoder's (default 0, as shipped; proxy/classifier/HISTORY.md tries 2 and 4)")
    train.add_argument("--extra", action="append", default=[], metavar="FILE", help="a JSONL file of more labelled lines, in data/'s format; each joins its scenario's file (repeatable)")
    train.add_argument("--c", type=float, help="inverse regularisation strength of the scenario head, a logistic regression (default: SCENARIO_C in proxy/classifier/train.py)")
    train.set_defaults(run=_train)

    bench = sub.add_parser("bench", help="run the attack suite around and through the proxy, judge every answer, report the ASR drop")
    bench.add_argument("--target", default="mmguard/sim-mllm", help="litellm model string of the model under test (default: the embedded simulated model)")
    bench.add_argument("--api-base", help="the target's API base URL")
    bench.add_argument("--api-key-env", help="environment variable that holds the target's API key")
    bench.add_argument("--policy", default="default", help="policy of the guarded arm: bundled name or YAML file")
    bench.add_argument("--arms", default="direct,guarded", help="comma list of direct, guarded and safety_prompt_only (the safety prompt alone, to see what it contributes)")
    bench.add_argument("--proxy-url", help="send the guarded arm to this running mmguard proxy instead of starting one")
    bench.add_argument("--proxy-model", help="model name to ask the external proxy for (default: --target)")
    bench.add_argument("--proxy-key-env", help="environment variable that holds the external proxy's key")
    bench.add_argument("--suite", default="builtin", help="builtin, or DATASET:PATH with DATASET one of mm-safetybench, figstep, safebench, xstest")
    bench.add_argument("--controls", default="builtin", help="benign control set when the suite has none: builtin, DATASET:PATH or none")
    bench.add_argument("--attacks", help="comma list of attacks, or all (default: text_only,typo,sd,sd_typo,figstep)")
    bench.add_argument("--scenarios", help="comma list of scenario ids (default: all)")
    bench.add_argument("--limit", type=_at_least(1), help="at most this many harmful and this many benign items, spread over scenarios")
    bench.add_argument("--seed", type=int, default=0, help="seed for sampling and for the randomised typography forms")
    bench.add_argument("--judge", default="refusal", choices=["refusal", "llm", "jury"], help="who decides whether an answer is a refusal or harmful")
    bench.add_argument("--judge-model", help="litellm model string of the llm judge")
    bench.add_argument("--judge-api-base", help="API base of the llm judge")
    bench.add_argument("--judge-api-key-env", help="environment variable holding the llm judge's key")
    bench.add_argument("--juror", action="append", help="a jury member's litellm model string (repeat)")
    bench.add_argument("--rounds", type=int, default=1, help="jury deliberation rounds")
    bench.add_argument("--sd", default="placeholder", help="where SD pictures come from: placeholder, folder:DIR or diffusers:DIR")
    bench.add_argument("--concurrency", type=_at_least(1), default=16, help="cases in flight at once")
    bench.add_argument("--retries", type=_at_least(0), default=3, help="retries with backoff on 429, 5xx and timeouts")
    bench.add_argument("--out", default="runs", help="folder that holds run folders")
    bench.add_argument("--name", help="run folder name (default: derived from the settings, so a rerun resumes)")
    bench.add_argument("--fresh", action="store_true", help="discard the run folder's earlier results and ask every answer again (no cached answer is read)")
    bench.add_argument("--no-cache", action="store_true", help="do not read or write the answer cache")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.set_defaults(run=_bench)

    judge = sub.add_parser("judge", help="judge answers: refusal or compliance, and harm when the judge decides it")
    judge.add_argument("--jsonl", help='file (or - for stdin) of {"id", "prompt", "response", "scenario"?} lines; one verdict line per input')
    judge.add_argument("--judge", default="refusal", choices=["refusal", "llm"], help="which judge")
    judge.add_argument("--judge-model", help="litellm model string of the llm judge")
    judge.add_argument("--judge-api-base", help="API base of the llm judge")
    judge.add_argument("--judge-api-key-env", help="environment variable holding the llm judge's key")
    judge.add_argument("--eval", nargs="?", const="bundled", help='measure the refusal judge against labelled answers: the bundled set (default), a JSONL file of {"id", "prompt", "response", "label": refusal or compliance} lines, or XSTest\'s labelled completions CSV (columns id, prompt, completion and final_label)')
    judge.set_defaults(run=_judge)

    perf = sub.add_parser("perf", help="the proxy's added latency, throughput and memory, against a loopback upstream")
    perf.add_argument("--only", default="text,images,throughput,image-throughput", help="comma list of parts: text, images, throughput, image-throughput (default: all)")
    perf.add_argument("--requests", type=int, default=1000, help="timed text-only requests each way (after up to 100 warm-up)")
    perf.add_argument("--image-requests", type=int, default=100, help="timed requests each way per image row (TYPO and SD+TYPO, cold and cached)")
    perf.add_argument("--concurrency", default="1,8,32", help="comma list of concurrencies for text-only throughput")
    perf.add_argument("--seconds", type=float, default=5.0, help="duration of each text-only throughput run, per concurrency and path")
    perf.add_argument("--images", type=int, default=300, help="distinct TYPO images sent for image throughput")
    perf.add_argument("--image-concurrency", type=_at_least(1), default=8, help="image requests in flight for image throughput")
    perf.add_argument("--workers", type=_at_least(1), default=1, help="passed to mmguard serve --workers")
    perf.add_argument("--transport", default="auto", choices=["auto", "direct", "litellm"], help="how the proxy reaches the upstream")
    perf.add_argument("--json", help="also write the figures to this file")
    perf.set_defaults(run=_perf)

    soak = sub.add_parser("soak", help="many clients for a while against a loopback upstream: errors, latency and whether memory stays flat")
    soak.add_argument("--clients", type=int, default=32, help="concurrent clients, each with one request in flight")
    soak.add_argument("--seconds", type=float, default=60.0, help="how long to run")
    soak.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    soak.add_argument("--workers", type=_at_least(1), default=1, help="passed to mmguard serve --workers")
    soak.add_argument("--json", help="also write the figures to this file")
    soak.set_defaults(run=_soak)

    perf_guard = sub.add_parser("perf-guard", help="the guard's cost per request (decode, OCR, classify) on one core")
    perf_guard.add_argument("-n", type=_at_least(1), default=60, help="distinct images per measurement")
    perf_guard.set_defaults(run=_perf_guard)

    eval_guard = sub.add_parser("eval-guard", help="the guard's detection rates on rendered examples it never trained on, per typography form")
    eval_guard.add_argument("--policy", default="default", help="bundled policy name or YAML file")
    eval_guard.add_argument("--forms", default="all", help="harder typography forms to read besides plain TYPO: all (default), none, or a comma-separated list of their names (an unknown name lists them); none is about five times faster")
    eval_guard.add_argument("--set", default="held-out", help=f"held-out (the labelled set's held-out quarter), {', '.join(guard_sets())} (written apart, never trained on), a JSONL file (each line an object with text, label: harmful or benign, scenario and, optional, style), several of these comma-separated, or all (held-out and every set); with several, a table of the targets on each comes last. A line's label and scenario choose its group, and its style must be one of that group's: {styles_help()}")
    eval_guard.set_defaults(run=_eval_guard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, PolicyError, EncoderUnavailable) as err:
        print(f"mmguard: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (``mmguard check --jsonl ... | head``): stop quietly, as a pipe's writer should
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's own flush would raise it again
        return 1


if __name__ == "__main__":
    sys.exit(main())
