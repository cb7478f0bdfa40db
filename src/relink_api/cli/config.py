"""Settings for a command, or one sentence saying what is wrong with them."""

from __future__ import annotations

from typing import Any

import click
from pydantic import AliasChoices, ValidationError

from relink_api.settings import ConfigurationError, Settings


class ConfigProblem(click.ClickException):
    """Configuration that cannot run: one sentence, exit status 2, no usage banner."""

    exit_code = 2


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"RELINK_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (``overrides`` win, and are validated alike), or a
    one-sentence error and exit status 2."""
    try:
        return Settings(**overrides)
    except ConfigurationError as exc:
        raise ConfigProblem(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{_env_name(str(error['loc'][0]))}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors()
        )
        raise ConfigProblem(f"Invalid configuration: {problems}.") from None
