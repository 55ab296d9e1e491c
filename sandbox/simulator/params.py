"""Request parameters as PTB sends them: form fields, multipart uploads or a JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from sandbox.simulator.models import ApiError, bad_request


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class Params:
    """Typed access to one call's parameters.

    Form and multipart values arrive as strings, with nested values (reply_markup, entities,
    allowed_updates) JSON-encoded; a JSON body carries native values. The getters accept both.
    """

    __slots__ = ("files", "values")

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.files

    def record(self) -> dict[str, Any]:
        """Return the parameters for ``sim.requests``, uploads shown by file name only."""
        if not self.files:
            return dict(self.values)
        recorded = dict(self.values)
        for name, upload in self.files.items():
            recorded[name] = f"<upload {upload.filename or name}>"
        return recorded

    def raw(self, name: str) -> Any:
        """Return the value as received, or None."""
        return self.values.get(name)

    def string(self, name: str, *, required: bool = False) -> str | None:
        """Return a string parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        """Return an integer parameter; a malformed one is a 400."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        """Return a float parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        """Return a boolean parameter (false when absent)."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def json(self, name: str) -> Any:
        """Return a JSON-valued parameter (decoded when it arrived as a string)."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


async def read_params(request: web.Request) -> Params:
    """Read query string plus form, multipart or JSON body into Params."""
    values: dict[str, Any] = dict(request.query) if request.query_string else {}
    if request.method != "POST" or not request.body_exists:
        return Params(values)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON encoded request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        values.update(body)
        return Params(values)
    if content_type == "multipart/form-data":
        files: dict[str, Upload] = {}
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = await part.read()
            if part.filename is not None:
                files[part.name] = Upload(part.filename, part.headers.get("Content-Type"), data)
            else:
                values[part.name] = data.decode(part.get_charset("utf-8"))
        return Params(values, files)
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, str):
            values[key] = value
    return Params(values)
