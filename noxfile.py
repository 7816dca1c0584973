"""Developer sessions: tests, lint, typecheck, docs, bench, demo, soak.

python -m pip install nox
python -m nox -s tests        # the full test suite (what CI runs)
python -m nox -s demo         # the end-to-end demo on the local backend
python -m nox -s soak         # the demo SIGKILLed at 40+ moments and resumed each time (~10-20 min)
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest exits 5 when it collects nothing: that fails the session too)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-n", "2", "--dist", "loadfile", "--durations=15", *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """The conformance suites on every backend, with the scenario count per backend and capability."""
    session.install("-e", ".[dev]")
    session.run(
        "pytest",
        "tests/conformance",
        "-n",
        "2",
        "--dist",
        "loadfile",
        "-p",
        "mlops_sdk.testing.pytest_plugin",
        "--conformance-counts",
        "-rs",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint over sources, tests, examples and benchmarks."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[all]", "mypy>=1.11", "types-PyYAML")
    session.run("mypy", "--strict", "src/mlops_sdk")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    session.install("-e", ".", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark side by side with its alternative and print ratios.

    ZenML gets its own environment (``.nox/bench-zenml``, built once): its pins conflict with ours.
    """
    session.install("-e", ".[dev]")
    import pathlib
    import sys

    zenml_env = pathlib.Path(".nox") / "bench-zenml"
    zenml_python = zenml_env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not zenml_python.exists():
        session.run("python", "-m", "venv", str(zenml_env))
        session.run(str(zenml_python), "-m", "pip", "install", "zenml[local]", "scikit-learn", external=True)
    for script in sorted(pathlib.Path("benchmarks").glob("*.py")):
        if script.name.startswith("_"):
            continue
        extra = ["--zenml-python", str(zenml_python)] if script.name in ("demo_loop.py", "training_pipeline.py") else []
        session.run("python", str(script), *extra, *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Long randomized sweeps: the demo killed at every moment of its run (seed: MLOPS_CRASH_SEED), the
    loop killed at every named step boundary, ``mlops monitor labels`` / ``run`` killed 25 times each,
    the demo on emulated Azure under 25 % random faults, every CLI command with every hostile value
    in both output modes plus 2000 fuzzed names, and every public client method called with every
    hostile argument on ``local://`` and a populated ``memory://`` (plus 3,000 random ones), and Ctrl-C sent
    to ``mlops train submit --wait`` at 30 seeded moments."""
    session.install("-e", ".[dev]")
    session.run(
        "pytest",
        "-m",
        "soak",
        "-n",
        "0",
        "-s",
        "tests/examples/test_crash_sweep.py",
        "tests/examples/test_crash_resume.py",
        "tests/monitoring/test_monitoring_crash.py",
        "tests/examples/test_docs_examples.py",
        "tests/azure/test_demo_emulated.py",
        "tests/unit/test_cli_adversarial.py",
        "tests/unit/test_api_adversarial.py",
        "tests/local/test_training.py",
        *session.posargs,
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The end-to-end demo on the local backend (examples/diabetes)."""
    session.install("-e", ".[local]")
    session.run("python", "examples/diabetes/demo.py", *session.posargs)


@nox.session
def demo_azure_emulated(session: nox.Session) -> None:
    """The same demo on emulated Azure (loopback fakes + Azurite), then under 25 % random faults.

    Prints the requests it sent per service (and the faults injected). Pass ``-- --rounds 1`` or
    ``-- --faults 0`` to change the run; needs Node.js/npm for Azurite (installed into .ci-node/).
    """
    session.install("-e", ".[dev]")
    if session.posargs:
        session.run("python", "-m", "tests.fakes.emulated_azure", *session.posargs)
        return
    session.run("python", "-m", "tests.fakes.emulated_azure", "--rounds", "2")
    session.run("python", "-m", "tests.fakes.emulated_azure", "--rounds", "1", "--faults", "0.25", "--seed", "13")
