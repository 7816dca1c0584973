"""The whole loop on the local backend, twice: first model, then champion vs challenger on new data.

    python examples/diabetes/demo.py [--workdir .demo] [--keep-endpoint] [--rounds 1|2|3] [--data diabetes.csv]
                                     [--run-id ID]

Each round: new files land in the "data lake" -> a refresh pipeline snapshots and splits them ->
train.py trains (your code, logging with MLflow) -> the model is registered -> validated against the
champion on the same pinned evaluation data -> a policy approves it (auto-approval rule: all checks
passed) -> blue/green rollout 10 -> 50 -> 100 % with a smoke test before every step -> a few rows
are scored through the endpoint -> an HTML run report is written. At the end the endpoint stops.

Round 1 has 300 rows and a heavily regularised Ridge; round 2 has all 442 rows and lighter
regularisation, so the challenger should beat the champion. If it does not, the flow stops cleanly
with outcome ``not_promoted`` and the champion keeps serving: that is the gate working.

Round 3 (``--rounds 3``) closes the loop: production drifts (``bmi`` shifted by about one standard
deviation, and the outcome with it); the served model's answers to that traffic are logged with
``client.monitoring`` with late ground truth for half of it; a monitor compares it with the champion's
training snapshot, alerts on ``bmi`` drift and the error, ``decide_retrain(monitor_report=...)`` says
retrain, and the same loop runs on the fresh data: refresh, train, validate against the champion (on
today's data), approve, blue/green deploy.

Every round is a ``Flow`` whose run id is ``<run id>-round-<n>``. Without ``--run-id`` the demo
starts from an empty work folder with a fresh run id. With ``--run-id`` it keeps the work folder and
resumes that run: kill it at any moment (Ctrl-C, SIGKILL, a closed laptop) and start it again with
the same ``--run-id``; finished steps are skipped, unfinished ones re-attach to their side effect
under the same idempotency key, and each side effect happens once.

The same script runs on Azure with only configuration changed: with a target configured
(``mlops.toml`` / ``MLOPS_TARGET`` / ``MLOPS_PROFILE``, see docs/azure-setup.md) it uses that target
instead of ``local://<workdir>/.mlops``; the lake is then the blob container ``DEMO_LAKE_URL`` names
(a container SAS URL) and the ``diabetes-features`` pipeline is the one authored in Data Factory
(the script declares it for the local engine only when the backend does not have it). In the
``prod`` profile no rule auto-approves: a release manager approves in Azure DevOps.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prepare_data import write_diabetes_csv  # noqa: E402

from mlops_sdk import MLOpsClient, TrainingJob, load_config  # noqa: E402
from mlops_sdk.checks import BeatsChampion, DataQuality, MetricThreshold, NoDrift, SignatureCheck  # noqa: E402
from mlops_sdk.errors import ConfigurationError, ResourceNotFoundError  # noqa: E402
from mlops_sdk.flows import Flow, decide_retrain  # noqa: E402
from mlops_sdk.models.approvals import ApprovalPolicy, AutoApproveRule  # noqa: E402
from mlops_sdk.models.data_factory import Copy, RefreshPipeline, Sql  # noqa: E402
from mlops_sdk.models.deployments import BlueGreen, SmokeTest  # noqa: E402
from mlops_sdk.models.monitoring import DataBaseline, DataDrift, ModelPerformance, Monitor  # noqa: E402

ENDPOINT = "diabetes"
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ROUNDS = [
    {"rows": 300, "alpha": 2.0, "label": "round 1: first model"},
    {"rows": 442, "alpha": 0.05, "label": "round 2: new data, champion vs challenger"},
    {"rows": 442, "alpha": 0.05, "label": "round 3: retrain after a production shift", "shifted": True},
]
BMI_SHIFT, TARGET_SHIFT = 0.05, 75.0
"""Round 3's production shift: ``bmi`` (standard deviation ~0.048) and, with it, the outcome."""

PIPELINE_NAME = "diabetes-features"


def refresh_pipeline(lake: Path) -> RefreshPipeline:
    """Snapshot the lake files and split them into a training set and a pinned evaluation set."""
    return RefreshPipeline(
        name=PIPELINE_NAME,
        description="Snapshot the lake files and split them into a training set and a pinned evaluation set.",
        activities=[
            Copy(name="raw", source=str(lake / "*.csv")),
            Sql(name="train_set", query="SELECT * EXCLUDE (row_id) FROM raw WHERE row_id % 5 <> 0 ORDER BY row_id"),
            Sql(name="eval_set", query="SELECT * EXCLUDE (row_id) FROM raw WHERE row_id % 5 = 0 ORDER BY row_id"),
        ],
    )


def land_files(lake: Path | str, rows: int, source: Path | None = None, *, ca_bundle: str | None = None) -> None:
    """Simulate new files landing in the data lake (the refresh reads every CSV there).

    ``lake`` is a folder, or a blob container SAS URL (``https://<account>.blob.../<container>?<sas>``)
    on Azure. ``source`` is the full diabetes CSV (default: written next to a local lake from
    scikit-learn's copy). Landing the same files again changes nothing (a resumed run may find a
    refresh still reading them), and a file appears whole or not at all.
    """
    import pandas as pd

    if source is None:
        source = write_diabetes_csv(Path(lake).parent / "source" / "diabetes.csv")
    frame = pd.read_csv(source).head(rows)
    frame.insert(0, "row_id", range(len(frame)))
    text = frame.to_csv(index=False)
    name = f"diabetes-{rows}.csv"
    if isinstance(lake, str) and lake.startswith("https://"):
        from azure.storage.blob import ContainerClient

        container = ContainerClient.from_container_url(lake, connection_verify=ca_bundle or True)
        for old in container.list_blobs():
            if old.name.endswith(".csv") and old.name != name:
                container.delete_blob(old.name)
        container.upload_blob(name, text.encode(), overwrite=True)  # a blob appears whole
        return
    folder = Path(lake)
    target = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        if old != target:
            old.unlink(missing_ok=True)  # a second run of the same id may have removed it first
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return
    write_whole(target, text)


def write_whole(target: Path, text: str) -> None:
    """Write ``target`` so that it appears whole or not at all, also with two runs of the demo at once
    (each writes its own temporary file: they never rename each other's)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)


def training_job(data: Any, alpha: float) -> TrainingJob:
    """The example's job, pointed at this round's training snapshot."""
    job = TrainingJob.from_yaml(HERE / "job.yaml")
    return TrainingJob.model_validate({**job.model_dump(), "inputs": {"data": data, "alpha": alpha}})


def approval_policy(client: MLOpsClient) -> ApprovalPolicy:
    """A passing model is auto-approved, except in the ``prod`` profile: there a release manager decides."""
    rules = () if client.config.settings.profile == "prod" else (AutoApproveRule(require_validation_passed=True),)
    return ApprovalPolicy(approvers=("release-manager@example.com",), auto_approve_when=rules)


def run_round(
    client: MLOpsClient, lake: Path | str, number: int, settings: dict[str, Any], source: Path, run_id: str
) -> dict[str, Any]:
    """One pass of the loop as a resumable flow (``<run_id>-round-<number>``); returns what the report needs."""
    ca_bundle = client.config.settings.ca_bundle
    land_files(lake, settings["rows"], source, ca_bundle=str(ca_bundle) if ca_bundle else None)
    facts: dict[str, Any] = {"round": number, "label": settings["label"]}
    started = time.perf_counter()
    with Flow("diabetes-demo", client=client, run_id=f"{run_id}-round-{number}") as flow:
        refresh = flow.step(
            "refresh", lambda step: client.data_factory.begin_refresh(PIPELINE_NAME, idempotency_key=step.key)
        )
        facts["snapshots"] = {name: (out.row_count, out.version[:19]) for name, out in refresh.outputs.items()}
        run = flow.step(
            "train",
            lambda step: client.training.begin_train(
                training_job(refresh.outputs["train_set"], settings["alpha"]), idempotency_key=step.key
            ),
        )
        facts["metrics"] = run.metrics
        model = flow.step("register", lambda step: client.models.register(run, name="diabetes"))
        facts["model"] = model.ref
        previous = _champion(client)
        checks = [
            MetricThreshold("r2", min=0.1),
            BeatsChampion("rmse", greater_is_better=False, min_delta=0.0),
            DataQuality(not_null=FEATURES, min_rows=40),
            SignatureCheck(rows=3),
        ]
        if previous is not None and previous.tags.get("mlops.demo.train_snapshot") and not settings.get("shifted"):
            checks.append(NoDrift(reference=previous.tags["mlops.demo.train_snapshot"], max_psi=0.25))
        report = flow.gate(
            "validate",
            lambda step: client.validation.validate(model, data=refresh.outputs["eval_set"], checks=checks),
        )
        facts["report"] = report
        client.models.set_tags(
            model.name, model.version, {"mlops.demo.train_snapshot": refresh.outputs["train_set"].uri}
        )
        policy = approval_policy(client)
        request = flow.step(
            "request-approval",
            lambda step: client.approvals.request(
                model, report=report, policy=policy, reason=settings["label"], idempotency_key=step.key
            ),
        )
        decision = flow.gate("approval", lambda step: client.approvals.begin_wait(request.id))
        facts["approval"] = f"{decision.status} ({decision.reason})" if hasattr(decision, "reason") else decision.status
        sample = {
            "input_data": {
                "columns": FEATURES,
                "data": [[0.04, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]],
            }
        }
        smoke = SmokeTest(payload=sample, shape=[1], dtype="number", latency_budget=1.0, ready_deadline=60)
        deployed = flow.step(
            "deploy",
            lambda step: client.deployments.begin_deploy(
                model, endpoint=ENDPOINT, strategy=BlueGreen(steps=[10, 50, 100], smoke_test=smoke)
            ),
        )
        facts["deployment"] = deployed
        client.models.set_alias(model.name, "champion", model.version)
        rows = evaluation_rows(source, settings["rows"], 3)
        facts["scores"] = client.deployments.invoke(ENDPOINT, {"input_data": {"columns": FEATURES, "data": rows}})
    facts["outcome"] = flow.outcome
    if flow.stopped_at == "validate":
        facts["report"] = flow.steps[-1].result
    facts["seconds"] = time.perf_counter() - started
    facts["steps"] = [(record.name, record.status) for record in flow.steps]
    facts["timings"] = {record.name: record.seconds for record in flow.steps}
    return facts


def shifted_source(source: Path, folder: Path) -> Path:
    """The diabetes CSV as production now sees it: ``bmi`` and the outcome shifted (round 3)."""
    import pandas as pd

    frame = pd.read_csv(source)
    frame["bmi"] += BMI_SHIFT
    frame["target"] += TARGET_SHIFT
    target = folder / "diabetes-shifted.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_whole(target, frame.to_csv(index=False))  # a refresh may be reading it (a resumed or second run)
    return target


def monitor_production(client: MLOpsClient, shifted: Path) -> tuple[Any, Any]:
    """Score the shifted traffic on the endpoint, log it with late labels for half, run the monitor.

    Returns the monitor report and the retraining decision it supports.
    """
    import pandas as pd

    champion = _champion(client)
    frame = pd.read_csv(shifted)
    scores = client.deployments.invoke(
        ENDPOINT, {"input_data": {"columns": FEATURES, "data": frame[FEATURES].values.tolist()}}
    )
    ids = client.monitoring.log_inferences(ENDPOINT, frame[FEATURES], predictions=scores, model=champion.ref)
    client.monitoring.log_ground_truth(ENDPOINT, ids[::2], frame["target"].iloc[::2].tolist())  # labels come late
    monitor = Monitor(
        endpoint=ENDPOINT,
        window="1h",
        baseline=DataBaseline(),
        signals=[DataDrift(), ModelPerformance(thresholds={"rmse": 65.0})],
    )
    report = client.monitoring.run(monitor, baseline_data=champion.tags["mlops.demo.train_snapshot"])
    return report, decide_retrain(monitor_report=report)


def _champion(client: MLOpsClient) -> Any:
    from mlops_sdk.core.errors import ResourceNotFoundError

    try:
        return client.models.get_by_alias("diabetes", "champion")
    except ResourceNotFoundError:
        return None


def evaluation_rows(source: Path, rows: int, count: int) -> list[list[float]]:
    """The first rows of this round's evaluation split (``row_id % 5 == 0``), as the endpoint expects them."""
    import pandas as pd

    frame = pd.read_csv(source).head(rows)
    return frame[FEATURES].iloc[::5].head(count).to_numpy().tolist()  # type: ignore[no-any-return]


def write_report(path: Path, rounds: list[dict[str, Any]], client: MLOpsClient) -> None:
    """A self-contained HTML run report: each round's steps, metrics, decision, rollout and scores."""
    sections = []
    for facts in rounds:
        report = facts.get("report")
        steps = "".join(f"<li>{html.escape(name)}: {html.escape(status)}</li>" for name, status in facts["steps"])
        deployed = facts.get("deployment")
        rollout = ""
        if deployed is not None:
            rollout = "".join(
                f"<li>{step.percent}% &rarr; {html.escape(str(step.traffic))}</li>" for step in deployed.steps
            )
        sections.append(
            f"<section><h2>{html.escape(facts['label'])}: {html.escape(facts['outcome'])}</h2>"
            f"<p>model {html.escape(str(facts.get('model')))} &middot; {facts['seconds']:.1f}s &middot; "
            f"approval: {html.escape(str(facts.get('approval', '-')))}</p>"
            f"<p>training metrics: {html.escape(str(facts.get('metrics')))}</p><ul>{steps}</ul>"
            f"<h3>Rollout</h3><ul>{rollout or '<li>not deployed</li>'}</ul>"
            f"<p>scores for 3 evaluation rows: {html.escape(str(facts.get('scores', '-')))}</p>"
            f"{report.to_html() if report is not None else ''}"
            f"{facts['monitor'].to_html() if facts.get('monitor') is not None else ''}</section>"
        )
    history = "".join(
        f"<tr><td>{entry.at:%H:%M:%S}</td><td>{html.escape(str(entry.action))}</td>"
        f"<td>{html.escape(str(entry.traffic))}</td></tr>"
        for entry in client.deployments.history(ENDPOINT)
    )
    write_whole(
        path,
        "<!doctype html><meta charset='utf-8'><title>mlops_sdk demo run</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto}</style>"
        f"<h1>mlops_sdk demo</h1>{''.join(sections)}"
        f"<h2>Endpoint history</h2><table><tr><th>at</th><th>action</th><th>traffic</th></tr>{history}</table>",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="where the demo keeps everything")
    parser.add_argument("--keep-endpoint", action="store_true", help="leave the endpoint running at the end")
    parser.add_argument(
        "--rounds",
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="1: first model only; 3: retrain after a production shift",
    )
    parser.add_argument(
        "--data", type=Path, help="the diabetes CSV (default: written from scikit-learn's bundled copy)"
    )
    parser.add_argument(
        "--run-id",
        type=_run_id,
        help="resume this run (same id: finished steps are skipped, unfinished ones re-attached); "
        "default: a fresh run in an emptied work folder",
    )
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    if args.run_id is None and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = args.run_id or uuid.uuid4().hex[:8]
    print(f"run id: {run_id}   (resume with --run-id {run_id})", flush=True)
    if args.data:
        source = args.data.resolve()
    elif (workdir / "source" / "diabetes.csv").is_file():
        source = workdir / "source" / "diabetes.csv"
    else:
        source = write_diabetes_csv(workdir / "source" / "diabetes.csv")
    started = time.perf_counter()
    rounds = []
    lake: Path | str = os.environ.get("DEMO_LAKE_URL") or workdir / "lake"
    configured = load_config().sources["target"] != "default"
    target = None if configured else f"local://{workdir / '.mlops'}"
    stopped = False
    with MLOpsClient(target, show_progress=False) as client:
        try:
            client.data_factory.get_pipeline(PIPELINE_NAME)  # authored in Data Factory on Azure
        except ResourceNotFoundError:
            client.data_factory.define(refresh_pipeline(Path(lake)))
        # Not waited for: the endpoint's server starts and imports the model loaders while data
        # refreshes and the model trains, so the first rollout does not wait for it.
        client.deployments.begin_create_endpoint(ENDPOINT)
        try:
            for number, settings in enumerate(ROUNDS[: args.rounds], start=1):
                data, monitored = source, None
                if settings.get("shifted"):
                    data = shifted_source(source, workdir / "source")
                    monitored = monitor_production(client, data)
                    _print_monitor(*monitored)
                    if not monitored[1].retrain:
                        break
                facts = run_round(client, lake, number, settings, data, run_id)
                if monitored is not None:
                    facts["monitor"] = monitored[0]
                rounds.append(facts)
                _print_round(facts)
            report_path = workdir / "run-report.html"
            write_report(report_path, rounds, client)
        finally:
            if not args.keep_endpoint and any(e.name == ENDPOINT for e in client.deployments.list_endpoints()):
                try:
                    stopped = client.deployments.stop_endpoint(ENDPOINT) or True
                except ConfigurationError:  # managed endpoints (Azure) cannot be stopped: they keep serving
                    stopped = False
    total = time.perf_counter() - started
    print(f"\ndone in {total:.1f}s")
    print(f"  target:      {client.target}")
    print(f"  run report:  {report_path}")
    state = "stopped" if stopped else "running"
    print(f"  endpoint:    {state} (mlops -t {client.target} endpoints list)")
    return 0


def _run_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _print_monitor(report: Any, decision: Any) -> None:
    print(f"\n== production monitor -> {report.outcome} ({report.rows} rows, {report.labeled_rows} labelled)")
    for line in report.alerts:
        print(f"  alert     {line}")
    print(f"  retrain   {decision.retrain}: drifted {', '.join(decision.drifted) or '-'}")


def _print_round(facts: dict[str, Any]) -> None:
    print(f"\n== {facts['label']} -> {facts['outcome']} ({facts['seconds']:.1f}s)")
    for name, (rows, version) in facts.get("snapshots", {}).items():
        print(f"  snapshot {name:<10} {rows:>4} rows  {version}")
    print(f"  trained   {facts.get('metrics')}")
    print(f"  model     {facts.get('model')}")
    report = facts.get("report")
    if report is not None:
        print(f"  validate  {report.outcome}")
        for check in report.checks:
            print(f"            {'PASS' if check.passed else 'FAIL'} {check.name}: {check.message}")
    print(f"  approval  {facts.get('approval', '-')}")
    deployed = facts.get("deployment")
    if deployed is not None:
        print(f"  deploy    {deployed.deployment}: " + " -> ".join(f"{s.percent}%" for s in deployed.steps))
    print(f"  scores    {facts.get('scores', '-')}")
    print("  seconds   " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in facts["timings"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
