"""The secret canary on monitoring: unique secret values in the environment (settings the SDK reads, one it
does not), the running endpoint's own key (the monitor asks the server to flush and for its counters), a
SAS signature in a labels path and a baseline path, a declared secret inside a monitor file; then every
monitoring command and call, succeeding and failing, in text and ``--output json``, with reports in
Markdown / HTML / JSON. Every captured output, log record, error and file under the project is searched.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from mlops_sdk import MLOpsClient
from mlops_sdk.backends.local.serving.process import EndpointServer
from mlops_sdk.cli.main import run as cli
from mlops_sdk.core.errors import MlopsError
from mlops_sdk.models.deployments import Capture
from mlops_sdk.models.monitoring import DataBaseline, DataDrift, DataQuality, ModelPerformance, Monitor
from tests.local._deploy import COLUMNS, Models, formula_a, save_models

ENDPOINT = "canary-mon"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return save_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: Models) -> Iterator[tuple[Path, EndpointServer]]:
    (tmp_path / "mlops.toml").write_text('target = "local://.mlops"\nshow_progress = false\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    server = EndpointServer(tmp_path / ".mlops" / "endpoints" / ENDPOINT, ENDPOINT)
    server.create()
    server.start()
    try:
        metadata = {"model": "model-a@1", "capture": Capture(durability="acknowledged").model_dump(mode="json")}
        server.admin("PUT", "deployments/blue", {"model_path": str(models.a), "metadata": metadata})
        server.admin("PUT", "traffic", {"traffic": {"blue": 100}})
        yield tmp_path, server
    finally:
        server.stop()


def _canary(label: str) -> str:
    return f"Cnry{label}{uuid.uuid4().hex}"


def test_no_canary_escapes_monitoring(
    project: tuple[Path, EndpointServer],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, server = project
    caplog.set_level(logging.DEBUG)
    needles = {label: _canary(label) for label in ("Pat", "ClientSecret", "UserEnv", "Sas", "BaselineSas")}
    monkeypatch.setenv("MLOPS_DEVOPS_PAT", needles["Pat"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", needles["ClientSecret"])
    monkeypatch.setenv("SALES_DB_PASSWORD", needles["UserEnv"])
    needles["EndpointKey"] = server.keys()["primary_key"]
    texts: list[tuple[str, str]] = []

    def cli_run(*argv: str) -> int:
        code = cli(list(argv))
        captured = capfd.readouterr()
        texts.append((f"mlops {' '.join(argv)} stdout", captured.out))
        texts.append((f"mlops {' '.join(argv)} stderr", captured.err))
        return code

    def failing(where: str, call: Any) -> None:
        with pytest.raises(MlopsError) as caught:
            call()
        texts.extend(
            [(where, str(caught.value)), (where, repr(caught.value)), (where, json.dumps(caught.value.to_dict()))]
        )

    # traffic through the real server: one request per row, ids we choose
    info = server.info()
    assert info is not None
    rows = [[float(i), float(i % 3), 1.0] for i in range(30)]
    headers = {"Authorization": f"Bearer {needles['EndpointKey']}"}
    with httpx.Client(base_url=info.url, timeout=30, headers=headers) as http:
        for index, row in enumerate(rows):
            answer = http.post(
                "/score",
                json={"input_data": {"columns": COLUMNS, "data": [row]}},
                headers={"x-mlops-correlation-id": f"order-{index}"},
            )
            assert answer.headers["x-mlops-capture"] == "stored"
    pd.DataFrame({"correlation_id": [f"order-{i}" for i in range(30)], "label": [formula_a(r) for r in rows]}).to_csv(
        folder / "labels.csv", index=False
    )
    pd.DataFrame(rows, columns=COLUMNS).to_parquet(folder / "train.parquet")
    monitor = (
        f'[monitor]\nendpoint = "{ENDPOINT}"\nwindow = "1h"\nbaseline = {{ kind = "data", path = "train.parquet" }}\n'
        '[[monitor.signals]]\nkind = "data_drift"\n[[monitor.signals]]\nkind = "data_quality"\n'
        '[[monitor.signals]]\nkind = "model_performance"\nthresholds = { rmse = 0.001 }\n'
    )
    (folder / "monitor.toml").write_text(monitor)
    sas = f"https://acct.blob.core.windows.net/c/train.parquet?sv=2024-01-01&sp=r&sig={needles['BaselineSas']}"
    (folder / "sas.toml").write_text(monitor.replace('path = "train.parquet"', f'path = "{sas}"'))
    (folder / "declared.toml").write_text(monitor.replace('window = "1h"', f'deployment = "{needles["Pat"]}"'))

    assert cli_run("-o", "json", "monitor", "labels", ENDPOINT, "labels.csv") == 0
    assert json.loads(texts[-2][1]) == {"endpoint": ENDPOINT, "labels": 30}
    labels_sas = f"https://acct.blob.core.windows.net/c/labels.csv?sv=2024-01-01&sig={needles['Sas']}"
    assert cli_run("monitor", "labels", ENDPOINT, labels_sas) == 1
    assert cli_run("-o", "json", "monitor", "labels", ENDPOINT, labels_sas) == 1
    for report in ("report.md", "report.html", "report.json"):
        assert cli_run("-o", "json", "monitor", "run", "monitor.toml", "--report", report) in (0, 3)
    printed = json.loads(texts[-2][1])
    assert printed["rows"] == 30
    assert printed["labeled_rows"] == 30
    assert cli_run("monitor", "run", "monitor.toml") in (0, 3)
    for bad in ("sas.toml", "declared.toml"):
        assert cli_run("monitor", "run", bad) == 1
        assert cli_run("-o", "json", "monitor", "run", bad) == 1
    assert cli_run("-o", "json", "monitor", "stats", ENDPOINT) == 0
    assert json.loads(texts[-2][1])["written"] == 30
    assert cli_run("monitor", "stats", ENDPOINT) == 0

    with MLOpsClient(show_progress=False) as client:
        report = client.monitoring.run(
            Monitor(
                endpoint=ENDPOINT,
                window="1h",
                baseline=DataBaseline(),
                signals=[DataDrift(), DataQuality(), ModelPerformance(thresholds={"rmse": 0.001})],
            ),
            baseline_data=folder / "train.parquet",
        )
        texts += [("report md", report.to_markdown()), ("report html", report.to_html())]
        texts += [("report json", report.to_json()), ("report repr", repr(report))]
        texts.append(("captures", client.monitoring.read_captures(ENDPOINT, window="1h").to_csv()))
        texts.append(("stats", client.monitoring.capture_stats(ENDPOINT).model_dump_json()))
        failing("labels sas", lambda: client.monitoring.log_ground_truth(ENDPOINT, data=labels_sas))
        failing(
            "baseline sas", lambda: client.monitoring.run(Monitor.from_toml(folder / "sas.toml"), baseline_data=sas)
        )
        failing("declared", lambda: Monitor.from_toml(folder / "declared.toml"))
        failing("id", lambda: client.monitoring.log_ground_truth(ENDPOINT, [needles["Pat"] + " "], [1]))
        # a secret passed to the wrong field of a value built in code (pydantic's own text quotes the input)
        failing("window", lambda: Monitor(endpoint=ENDPOINT, window=needles["Pat"], signals=[DataDrift()]))
        failing("features", lambda: DataDrift(features=needles["Pat"]))
        failing("name", lambda: Monitor(endpoint=ENDPOINT, signals=[DataDrift()], name=["x", needles["Pat"]]))

    for record in caplog.records:
        texts.append((f"log {record.name}", logging.Formatter().format(record)))
    texts.append(("remaining output", "".join(capfd.readouterr())))
    assert any("***" in text for _, text in texts)  # the failures above did quote the secrets, masked
    leaks = [f"{where}: {label}" for where, text in texts for label, value in needles.items() if value in text]
    # every file the SDK wrote: all but the endpoint keys' home and the inputs this test wrote
    mine = {folder / name for name in ("mlops.toml", "monitor.toml", "sas.toml", "declared.toml", "labels.csv")}
    excluded = {server.folder / "secrets.json", folder / "train.parquet", *mine}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path not in excluded:
            data = path.read_bytes()
            leaks += [
                f"{path.relative_to(folder)}: {label}" for label, value in needles.items() if value.encode() in data
            ]
    assert leaks == []
    assert len(texts) > 40
