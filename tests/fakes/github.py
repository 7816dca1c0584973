"""A fake GitHub repository with environment reviews, built from GitHub's OpenAPI description.

Routes are the description's own operations (``tests.fakes.github_spec``): pending deployments of a
workflow run (GET, and POST to review them), the run's review history, an environment. Answers start
from the description's examples, adjusted to the fake's state, and are checked against the response
schemas; request bodies are checked against the request schema (a misfit is answered 422 like GitHub
and kept in :attr:`FakeGitHub.spec_problems`). ``GET /user`` (who the token acts as) is not in the
extract: it answers a ``simple-user`` from the description's components.

Like GitHub, only a required reviewer of the environment may review a waiting deployment; logins in
``bypass`` may too (GitHub lets repository admins bypass protection rules), which is how a test proves
that OUR policy still refuses. :meth:`FakeGitHub.act` records a review made in the web UI.
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import github_spec as spec
from tests.fakes.server import FakeService, Request, Response

OWNER, REPO = "contoso", "churn-model"
PENDING = "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments"
REVIEWS = "/repos/{owner}/{repo}/actions/runs/{run_id}/approvals"
ENVIRONMENT = "/repos/{owner}/{repo}/environments/{environment_name}"
_DOCS = "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run"


@dataclass
class FakeEnvironment:
    id: int
    name: str
    reviewers: list[str] = field(default_factory=list)


class FakeGitHub:
    """State and routes of the fake repository."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.environments: dict[str, FakeEnvironment] = {}
        self.waiting: dict[int, dict[str, str]] = {}
        self.history: dict[int, list[dict[str, Any]]] = {}
        self.bypass: set[str] = set()
        self.spec_problems: list[str] = []
        self._register()

    # -- test helpers ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.service.url

    def add_user(self, token: str, login: str) -> None:
        """Accept ``token`` as ``login``."""
        self.tokens[token] = login

    def add_environment(self, name: str, reviewers: list[str], env_id: int = 161088068) -> FakeEnvironment:
        """An environment with a required-reviewers rule."""
        environment = FakeEnvironment(env_id + len(self.environments), name, list(reviewers))
        self.environments[name] = environment
        return environment

    def wait_on(self, run_id: int, name: str) -> None:
        """The run's deployment job reached ``environment: name`` and waits for review."""
        with self.lock:
            self.waiting.setdefault(run_id, {})[name] = "2026-12-02T00:00:00Z"
            self.history.setdefault(run_id, [])

    def act(self, run_id: int, login: str, state: str, comment: str) -> None:
        """A review made in GitHub's web UI by ``login`` (no permission check: the test decides)."""
        with self.lock:
            names = list(self.waiting.get(run_id, {}))
            self._record(run_id, login, state, comment, [self.environments[name] for name in names])

    # -- routes ------------------------------------------------------------------------------------

    def _register(self) -> None:
        route = self.service.route
        route("GET", spec.path_pattern(PENDING), self._pending)
        route("POST", spec.path_pattern(PENDING), self._review)
        route("GET", spec.path_pattern(REVIEWS), self._reviews)
        route("GET", spec.path_pattern(ENVIRONMENT), self._environment)
        route("GET", "/user", self._user)

    def _caller(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self.tokens.get(token)

    def _guard(self, request: Request, match: re.Match[str] | None) -> str | Response:
        login = self._caller(request)
        if login is None:
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if match is not None and (match["owner"].lower(), match["repo"].lower()) != (OWNER.lower(), REPO.lower()):
            return Response(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        return login

    def _answer(self, method: str, template: str, status: int, body: Any) -> Response:
        problems = spec.response_problems(method, template, status, body)
        if problems:  # a fake bug: the test sees a 500 naming it
            raise AssertionError(f"fake answer does not fit the description: {problems}")
        return Response(status, body)

    def user_json(self, login: str) -> dict[str, Any]:
        """A ``simple-user`` built from the description's example user."""
        user: dict[str, Any] = spec.example("GET", PENDING)[0]["reviewers"][0]["reviewer"]
        number = abs(hash(login)) % 10_000_000
        for key, value in list(user.items()):
            if isinstance(value, str):
                user[key] = value.replace("octocat", login)
        user.update({"login": login, "id": number, "node_id": f"U_{number}"})
        return user

    def _environment_json(self, environment: FakeEnvironment, template: dict[str, Any]) -> dict[str, Any]:
        base = f"https://api.github.com/repos/{OWNER}/{REPO}/environments/{environment.name}"
        html = f"https://github.com/{OWNER}/{REPO}/deployments/activity_log?environments_filter={environment.name}"
        return {**template, "id": environment.id, "name": environment.name, "url": base, "html_url": html}

    def _pending(self, request: Request, match: re.Match[str]) -> Response:
        login = self._guard(request, match)
        if isinstance(login, Response):
            return login
        sample = spec.example("GET", PENDING)[0]
        items = []
        with self.lock:
            for name, started in self.waiting.get(int(match["run_id"]), {}).items():
                environment = self.environments[name]
                item = copy.deepcopy(sample)
                item["environment"] = self._environment_json(environment, item["environment"])
                item["wait_timer"] = 0
                item["wait_timer_started_at"] = started
                item["current_user_can_approve"] = login in environment.reviewers or login in self.bypass
                item["reviewers"] = [{"type": "User", "reviewer": self.user_json(who)} for who in environment.reviewers]
                items.append(item)
        return self._answer("GET", PENDING, 200, items)

    def _review(self, request: Request, match: re.Match[str]) -> Response:
        login = self._guard(request, match)
        if isinstance(login, Response):
            return login
        body = request.json
        problems = spec.request_problems("POST", PENDING, body)
        if problems:
            self.spec_problems.extend(problems)
            return Response(422, {"message": "Invalid request.\n\n" + "\n".join(problems), "documentation_url": _DOCS})
        run_id = int(match["run_id"])
        with self.lock:
            waiting = self.waiting.get(run_id, {})
            chosen = [env for env in self.environments.values() if env.id in body["environment_ids"]]
            if len(chosen) != len(set(body["environment_ids"])) or any(env.name not in waiting for env in chosen):
                message = "No pending deployment for these environments"
                return Response(422, {"message": message, "documentation_url": _DOCS})
            if any(login not in env.reviewers and login not in self.bypass for env in chosen):
                message = f"{login} is not a required reviewer of the environment"
                return Response(422, {"message": message, "documentation_url": _DOCS})
            self._record(run_id, login, body["state"], body["comment"], chosen)
        deployments = []
        sample = spec.example("POST", PENDING)[0]
        for environment in chosen:
            deployment = copy.deepcopy(sample)
            deployment.update({"environment": environment.name, "original_environment": environment.name})
            deployment["creator"] = self.user_json(login)
            deployments.append(deployment)
        return self._answer("POST", PENDING, 200, deployments)

    def _record(self, run_id: int, login: str, state: str, comment: str, chosen: list[FakeEnvironment]) -> None:
        sample = spec.example("GET", REVIEWS)[0]
        entry = copy.deepcopy(sample)
        entry.update(
            {
                "state": state,
                "comment": comment,
                "user": self.user_json(login),
                "environments": [self._environment_json(env, sample["environments"][0]) for env in chosen],
            }
        )
        self.history.setdefault(run_id, []).append(entry)
        for environment in chosen:
            self.waiting.get(run_id, {}).pop(environment.name, None)

    def _reviews(self, request: Request, match: re.Match[str]) -> Response:
        login = self._guard(request, match)
        if isinstance(login, Response):
            return login
        with self.lock:
            entries = copy.deepcopy(self.history.get(int(match["run_id"]), []))
        return self._answer("GET", REVIEWS, 200, entries)

    def _environment(self, request: Request, match: re.Match[str]) -> Response:
        login = self._guard(request, match)
        if isinstance(login, Response):
            return login
        environment = self.environments.get(match["environment_name"])
        if environment is None:
            return Response(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        answer = spec.example("GET", ENVIRONMENT)
        answer = self._environment_json(environment, answer)
        rules = [rule for rule in answer.get("protection_rules", []) if rule.get("type") == "required_reviewers"]
        for rule in rules:
            rule["reviewers"] = [{"type": "User", "reviewer": self.user_json(who)} for who in environment.reviewers]
        answer["protection_rules"] = rules if environment.reviewers else []
        return self._answer("GET", ENVIRONMENT, 200, answer)

    def _user(self, request: Request, match: re.Match[str]) -> Response:
        login = self._guard(request, None)
        if isinstance(login, Response):
            return login
        user = self.user_json(login)
        problems = spec.schema_problems("simple-user", user)
        if problems:
            raise AssertionError(f"fake /user does not fit simple-user: {problems}")
        return Response(200, user)
