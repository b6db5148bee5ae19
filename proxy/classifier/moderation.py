"""The ``moderation`` backend: OpenAI's omni-moderation through litellm.

Options: ``model`` (default ``omni-moderation-latest``), ``api_key_env``
(default ``OPENAI_API_KEY``), ``api_base``. Category scores are mapped onto
MM-SafetyBench scenarios; the harm score is the highest category score.
"""

from __future__ import annotations

import os
from typing import Any

from proxy import quiet_litellm
from proxy.classifier import Input, Scores, as_text

CATEGORY_SCENARIOS: dict[str, str] = {
    "harassment": "hate_speech",
    "harassment/threatening": "physical_harm",
    "hate": "hate_speech",
    "hate/threatening": "hate_speech",
    "illicit": "illegal_activity",
    "illicit/violent": "physical_harm",
    "self-harm": "physical_harm",
    "self-harm/intent": "physical_harm",
    "self-harm/instructions": "physical_harm",
    "sexual": "sex",
    "sexual/minors": "sex",
    "violence": "physical_harm",
    "violence/graphic": "physical_harm",
}


def scores_from(category_scores: dict[str, Any]) -> Scores:
    by_scenario: dict[str, float] = {}
    for category, value in category_scores.items():
        scenario = CATEGORY_SCENARIOS.get(category.replace("_", "/"))
        if scenario is not None and value is not None:
            by_scenario[scenario] = max(by_scenario.get(scenario, 0.0), float(value))
    return Scores(max(by_scenario.values(), default=0.0), by_scenario)


class ModerationClassifier:
    name = "moderation"

    def __init__(self, model: str = "omni-moderation-latest", api_key_env: str = "OPENAI_API_KEY", api_base: str | None = None) -> None:
        self.model, self.api_base = model, api_base
        self._api_key = os.environ.get(api_key_env)
        if self._api_key is None:
            raise ValueError(f"environment variable {api_key_env} is not set")

    def classify(self, texts: list[Input]) -> list[Scores]:
        litellm = quiet_litellm()

        response = litellm.moderation(model=self.model, input=as_text(texts), api_key=self._api_key, api_base=self.api_base)
        results = response.results if hasattr(response, "results") else response["results"]
        return [scores_from(dict(r.category_scores if hasattr(r, "category_scores") else r["category_scores"])) for r in results]
