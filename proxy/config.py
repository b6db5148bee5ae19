"""The proxy's configuration: one YAML file, validated once, overridable from the environment.

The model list follows litellm's ``model_list`` so that an operator who knows
litellm's proxy config can write ours without reading docs::

    model_list:
      - model_name: gpt-4o                      # what clients send as "model"
        litellm_params:
          model: openai/gpt-4o                  # any litellm model string
          api_base: https://api.openai.com/v1
          api_key: os.environ/OPENAI_API_KEY    # never the key itself in the file
        safety_prompt_placement: system         # or "prefix" (MM-SafetyBench's way)

Secrets are resolved from the environment at load time and held as
``SecretStr`` so that neither ``repr`` nor a log line can print them.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

ENV_PREFIX = "os.environ/"
#: litellm providers whose API is OpenAI's own, so the direct transport can reach them.
DIRECT_PROVIDERS = frozenset({"openai", "hosted_vllm", "openai_like", "custom_openai"})
#: The only litellm_params extras the direct transport understands.
DIRECT_EXTRAS = frozenset({"extra_headers"})
DEFAULT_CONFIG = "default_config.yaml"


class ConfigError(ValueError):
    """A configuration problem, phrased as: which file, which key, what is wrong."""


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_body_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Larger request bodies get 413.")
    api_keys: list[SecretStr] = Field(default_factory=list, description="Bearer keys clients must send; empty means open.")
    upstream_timeout_s: float = Field(60.0, gt=0)
    metrics_require_key: bool = Field(
        False, description="GET /metrics needs a proxy key as well; off by default, like /healthz, so a scraper holds no client key."
    )


class DecisionLogSettings(BaseModel):
    """One JSON line per chat request: what was decided, why, and how long it took."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Off by default: mmguard bench and demo serve the proxy in-process and print to stdout.")
    path: str | None = Field(None, description="File to append to; stdout when unset.")
    log_content: bool = Field(False, description="Also log the users' text and the images' OCR text; never images, never keys.")


class LoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_log: DecisionLogSettings = Field(default_factory=DecisionLogSettings)


class LitellmParams(BaseModel):
    """What litellm needs to reach one upstream; unknown keys go to litellm untouched."""

    model_config = ConfigDict(extra="allow")

    model: str
    api_base: str | None = None
    api_key: SecretStr | None = None
    api_version: str | None = None
    extra_headers: dict[str, str] | None = None


class ModelRoute(BaseModel):
    """One client-facing model name and the upstream behind it."""

    model_config = ConfigDict(extra="forbid")

    model_name: str
    litellm_params: LitellmParams
    policy: str | None = Field(None, description="Policy name or file for this model; the config's default otherwise.")
    safety_prompt_placement: Literal["prefix", "system"] = "prefix"
    timeout_s: float | None = Field(None, gt=0)
    max_retries: int = Field(0, ge=0, le=10)
    drop_params: bool = Field(False, description="Let litellm drop parameters the provider does not support.")
    transport: Literal["auto", "direct", "litellm"] = Field(
        "auto", description="direct: OpenAI protocol straight to api_base; litellm: any provider; auto: direct where possible."
    )

    def resolved_transport(self) -> Literal["direct", "litellm"]:
        """``auto`` goes direct for an OpenAI-compatible provider with an api_base and no litellm-only settings."""
        if self.transport != "auto":
            return self.transport
        lp = self.litellm_params
        provider = lp.model.split("/", 1)[0]
        litellm_only = set(lp.model_extra or {}) - DIRECT_EXTRAS or lp.api_version or self.drop_params
        return "direct" if provider in DIRECT_PROVIDERS and lp.api_base and not litellm_only else "litellm"

    @model_validator(mode="after")
    def _direct_needs_what_it_uses(self) -> "ModelRoute":
        if self.transport == "direct":
            lp = self.litellm_params
            if not lp.api_base:
                raise ValueError("transport direct needs litellm_params.api_base")
            unused = sorted(set(lp.model_extra or {}) - DIRECT_EXTRAS)
            if unused or lp.api_version or self.drop_params:
                raise ValueError(f"transport direct cannot apply {', '.join(unused) or 'api_version/drop_params'}; use transport litellm")
        return self


class KeyPolicy(BaseModel):
    """A proxy key with a policy of its own; the key is also accepted as a proxy key."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr
    policy: str


class ProxyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    policy: str = Field("default", description="Default policy: a bundled name (policies/*.yaml) or a file path.")
    key_policies: list[KeyPolicy] = Field(default_factory=list, description="Per-key policies; they win over the model's and the default.")
    model_list: list[ModelRoute] = Field(min_length=1)
    source: str = Field("<memory>", exclude=True, description="Where this config was read from, for error messages.")
    policy_set_by: str = Field("policy", exclude=True, description="What chose the default policy, for error messages: the key, or $MMGUARD_POLICY.")

    @field_validator("model_list")
    @classmethod
    def _unique_names(cls, routes: list[ModelRoute]) -> list[ModelRoute]:
        names = [r.model_name for r in routes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model_name must be unique; repeated: {', '.join(dupes)}")
        return routes

    def route(self, model: str) -> ModelRoute | None:
        return next((r for r in self.model_list if r.model_name == model), None)

    def secrets(self) -> list[str]:
        """Every secret value in the config, so that error text can be scrubbed of them."""
        values = [k.get_secret_value() for k in self.server.api_keys] + [k.key.get_secret_value() for k in self.key_policies]
        values += [r.litellm_params.api_key.get_secret_value() for r in self.model_list if r.litellm_params.api_key]
        return values


def _resolve_env_refs(node: Any, where: str, environ: Mapping[str, str]) -> Any:
    """Replace every ``os.environ/NAME`` string with the variable's value."""
    if isinstance(node, dict):
        return {k: _resolve_env_refs(v, f"{where}.{k}" if where else str(k), environ) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_env_refs(v, f"{where}[{i}]", environ) for i, v in enumerate(node)]
    if isinstance(node, str) and node.startswith(ENV_PREFIX):
        name = node[len(ENV_PREFIX):]
        if name not in environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]
    return node


def boolean(value: str) -> bool:
    """An environment flag: true/false, yes/no, on/off or 1/0."""
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _decision_log_override(raw: dict, value: str) -> None:
    """MMGUARD_DECISION_LOG: ``stdout``, ``off``, or a file path; the file's log_content setting is kept."""
    logging_ = raw.setdefault("logging", {}) or {}
    raw["logging"] = logging_
    decision_log = logging_.setdefault("decision_log", {}) or {}
    logging_["decision_log"] = decision_log
    if value.strip().lower() == "off":
        decision_log["enabled"] = False
        return
    decision_log["enabled"] = True
    decision_log["path"] = None if value.strip().lower() == "stdout" else value


def _apply_env_overrides(raw: dict, environ: Mapping[str, str]) -> dict:
    """MMGUARD_* variables win over the file, so containers need no config edits."""
    server = raw.setdefault("server", {}) or {}
    raw["server"] = server
    simple = {
        "MMGUARD_HOST": ("host", str),
        "MMGUARD_PORT": ("port", int),
        "MMGUARD_MAX_BODY_BYTES": ("max_body_bytes", int),
        "MMGUARD_UPSTREAM_TIMEOUT_S": ("upstream_timeout_s", float),
        "MMGUARD_METRICS_REQUIRE_KEY": ("metrics_require_key", boolean),
    }
    for var, (key, cast) in simple.items():
        if environ.get(var):
            try:
                server[key] = cast(environ[var])
            except ValueError:
                raise ConfigError(f"{var}: expected {cast.__name__}, got {environ[var]!r}") from None
    if environ.get("MMGUARD_API_KEYS"):
        extra = [k.strip() for k in environ["MMGUARD_API_KEYS"].split(",") if k.strip()]
        server["api_keys"] = list(server.get("api_keys") or []) + extra
    if environ.get("MMGUARD_POLICY"):
        raw["policy"] = environ["MMGUARD_POLICY"]
    if environ.get("MMGUARD_DECISION_LOG"):
        _decision_log_override(raw, environ["MMGUARD_DECISION_LOG"])
    return raw


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def parse_config(raw: Any, source: str, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    environ = os.environ if environ is None else environ
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    raw = _apply_env_overrides(_resolve_env_refs(raw, "", environ), environ)
    try:
        config = ProxyConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None
    config.source = source
    if environ.get("MMGUARD_POLICY"):
        config.policy_set_by = "$MMGUARD_POLICY"
    return config


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Load ``path``, or ``$MMGUARD_CONFIG``, or the embedded default (the simulated model)."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("MMGUARD_CONFIG")
    if path:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"{source}: cannot read: {err.strerror}") from None
    else:
        source = f"<embedded {DEFAULT_CONFIG}>"
        text = resources.files("proxy").joinpath(DEFAULT_CONFIG).read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None
    return parse_config(raw, source, environ)
