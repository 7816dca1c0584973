"""``ModelRef``: one parser for every spelling of a model reference, checked against the grammars it replaced.

The ``_old_*`` functions are verbatim copies of the parsers that lived in models/registry.py,
clients/approvals.py, clients/deployments.py and backends/local/deployments.py before they were merged:
every string they accepted must still mean the same model version or alias.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.registry import ModelRef, ModelVersion, parse_model_ref

_OLD_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:(?P<sep>[@:])(?P<what>[A-Za-z0-9_.\-]+))?$")


def _old_registry(ref: str) -> tuple[str, str | None, str | None] | None:
    match = _OLD_REF.match(ref.strip())
    if match is None or match["sep"] is None:
        return None
    if match["sep"] == "@":
        return match["name"], match["what"], None
    return match["name"], None, match["what"]


def _old_approvals(model: str) -> tuple[str, str] | None:
    name, sep, version = model.strip().rpartition("@")
    return (name, version) if sep and name and version else None


def _old_deployment_uri(text: str) -> tuple[str, str] | None:
    match = re.match(r"^models:/([^/@]+)/(\d+)$", text) or re.match(r"^azureml:([^:/]+):(\d+)$", text)
    return (match.group(1), match.group(2)) if match else None


def _old_local_source(uri: str) -> tuple[str, str | None, str | None]:
    reference = uri[len("models:/") :].strip("/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, None, alias
    name, _, version = reference.partition("/")
    return name, version, None


NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,30}\Z")
WORDS = st.from_regex(r"\A[A-Za-z0-9_.\-]{1,20}\Z")
NUMBERS = st.integers(min_value=0, max_value=10**9).map(str)
REFS = st.one_of(
    st.builds(lambda n, v: ModelRef(name=n, version=v), NAMES, WORDS),
    st.builds(lambda n, a: ModelRef(name=n, alias=a), NAMES, WORDS),
)


@given(REFS)
def test_the_short_form_round_trips(ref: ModelRef) -> None:
    assert ModelRef.parse(str(ref)) == ref
    assert ModelRef.parse(f"  {ref}\n") == ref
    assert TypeAdapter(ModelRef).validate_python(str(ref)) == ref


@given(NAMES, NUMBERS)
def test_the_registry_uris_round_trip(name: str, version: str) -> None:
    ref = ModelRef(name=name, version=version)
    assert ModelRef.parse(ref.mlflow_uri) == ref
    assert ModelRef.from_uri(ref.mlflow_uri) == ref
    assert ModelRef.parse(f"azureml:{name}:{version}") == ref


@given(NAMES, WORDS.filter(lambda a: "/" not in a))
def test_an_mlflow_alias_uri_round_trips(name: str, alias: str) -> None:
    ref = ModelRef(name=name, alias=alias)
    assert ModelRef.from_uri(ref.mlflow_uri) == ref


@given(st.one_of(st.text(max_size=40), st.builds(lambda n, s, w: f"{n}{s}{w}", NAMES, st.sampled_from("@:/"), WORDS)))
def test_every_short_spelling_the_old_parser_took_means_the_same(text: str) -> None:
    before = _old_registry(text)
    if before is None:
        return
    parsed = ModelRef.parse(text)
    assert (parsed.name, parsed.version, parsed.alias) == before
    assert parse_model_ref(text) == before


@given(NAMES, WORDS)
def test_every_name_at_version_the_approvals_parser_took_means_the_same(name: str, version: str) -> None:
    text = f"{name}@{version}"
    assert _old_approvals(text) == (name, version)
    parsed = ModelRef.parse(text)
    assert (parsed.name, parsed.version) == (name, version)


@given(
    st.one_of(
        st.builds(lambda n, v: f"models:/{n}/{v}", st.from_regex(r"\A[^/@\s]{1,20}\Z"), NUMBERS),
        st.builds(lambda n, v: f"azureml:{n}:{v}", st.from_regex(r"\A[^:/\s]{1,20}\Z"), NUMBERS),
        st.text(max_size=30).map(lambda t: f"models:/{t}"),
        st.text(max_size=30).map(lambda t: f"azureml:{t}"),
    )
)
def test_every_registry_uri_the_deployment_parser_took_means_the_same(text: str) -> None:
    before = _old_deployment_uri(text)
    after = ModelRef.from_uri(text)
    if before is None:  # the only spelling added is MLflow's alias URI, which names no version
        assert after is None or after.version is None
        return
    assert after is not None
    assert (after.name, after.version) == before


@given(
    st.one_of(
        st.builds(lambda n, v: f"models:/{n}/{v}", NAMES, NUMBERS),
        st.builds(lambda n, a: f"models:/{n}@{a}", NAMES, WORDS),
    )
)
def test_every_uri_the_local_platform_resolved_means_the_same(uri: str) -> None:
    ref = ModelRef.from_uri(uri)
    assert ref is not None
    assert (ref.name, ref.version, ref.alias) == _old_local_source(uri)


def test_known_spellings() -> None:
    version = ModelRef(name="diabetes", version="3")
    alias = ModelRef(name="diabetes", alias="champion")
    for text in ("diabetes@3", "models:/diabetes/3", "azureml:diabetes:3", " diabetes@3 "):
        assert ModelRef.parse(text) == version, text
    for text in ("diabetes:champion", "models:/diabetes@champion"):
        assert ModelRef.parse(text) == alias, text
    assert (str(version), str(alias)) == ("diabetes@3", "diabetes:champion")
    assert ModelRef.parse(ModelVersion(name="diabetes", version="3", uri="models:/diabetes/3")) == version
    assert ModelRef.parse(alias) is alias
    for other in ("runs:/abc/model", "azureml://registries/r/models/m/versions/1", "/tmp/model", "models:/x"):
        assert ModelRef.from_uri(other) is None, other


@pytest.mark.parametrize("bad", ["", "diabetes", "@3", "dia betes@3", "a@b@3", "models:/d/", 3])
def test_a_bad_reference_is_a_configuration_error_naming_the_field(bad: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ModelRef.parse(bad, field="champion")  # type: ignore[arg-type]
    assert caught.value.details == {"field": "champion", "value": str(bad)}
    assert "champion:" in str(caught.value)
    assert "NAME@VERSION" in str(caught.value)


def test_a_field_typed_model_ref_takes_strings_and_refuses_both_or_neither() -> None:
    class Spec(BaseModel):
        model: ModelRef

    assert Spec.model_validate({"model": "churn:champion"}).model == ModelRef(name="churn", alias="champion")
    with pytest.raises(ValidationError) as caught:
        Spec.model_validate({"model": "churn"})
    assert caught.value.errors()[0]["loc"] == ("model",)
    assert "NAME@VERSION" in caught.value.errors()[0]["msg"]
    with pytest.raises(ValueError, match="exactly one of version or alias"):
        ModelRef(name="churn", version="1", alias="champion")
    with pytest.raises(ValueError, match="exactly one of version or alias"):
        ModelRef(name="churn")
