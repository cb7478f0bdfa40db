"""The examples a request or response model shows in the OpenAPI document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# What a model's schema and its properties' schemas show as examples.
_EXAMPLE_KEYWORDS = ("examples", "example")


def with_examples(*examples: dict[str, Any], extra: Literal["forbid"] | None = None) -> ConfigDict:
    """A model's ``model_config`` that puts ``examples`` in its JSON schema; ``extra="forbid"``
    for a request body that refuses unknown fields."""
    if extra is None:
        return ConfigDict(json_schema_extra={"examples": list(examples)})
    return ConfigDict(extra=extra, json_schema_extra={"examples": list(examples)})


def restore_model_examples(schemas: dict[str, Any]) -> None:
    """Give each component schema of a relink-api model the examples the model declares.

    FastAPI encodes the OpenAPI document with ``exclude_none``, which also drops every
    ``null`` inside an example: an account example loses ``"replaces_account_id": null`` and
    no longer has the properties its schema requires. The model's own JSON schema still has
    them, so its examples (and its properties' examples) are copied back from there.
    """
    models = _models_by_name()
    for name, schema in schemas.items():
        model = models.get(name)
        if model is None:
            continue
        declared = model.model_json_schema(ref_template="#/components/schemas/{model}")
        _copy_examples(declared, schema)
        rendered_properties = schema.get("properties", {})
        for prop, declared_property in declared.get("properties", {}).items():
            if prop in rendered_properties:
                _copy_examples(declared_property, rendered_properties[prop])


def _copy_examples(source: dict[str, Any], target: dict[str, Any]) -> None:
    for keyword in _EXAMPLE_KEYWORDS:
        if keyword in source:
            target[keyword] = source[keyword]


def _models_by_name() -> dict[str, type[BaseModel]]:
    """relink-api's models by class name, the name FastAPI gives their component schemas;
    a name two models share is left out (FastAPI names their components otherwise)."""
    models = [
        model for model in _subclasses(BaseModel) if model.__module__.startswith("relink_api.")
    ]
    counts = Counter(model.__name__ for model in models)
    return {model.__name__: model for model in models if counts[model.__name__] == 1}


def _subclasses(cls: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)
