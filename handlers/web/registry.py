"""Console pages of the graduate registry: upload, check, confirm; classes; matches.

An upload is checked first (a dry run shown on screen); only the member's confirmation
imports it. The checked file waits in this process, bound to the member, for a quarter of
an hour: after a restart the member uploads it again (nothing is lost but a click).
Invitations and the export hold names: every download is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.registry import report as words
from bot.registry.importer import ImportFileError, parse_mapping
from bot.registry.service import MIN_GROUP, ClassKey, RegistryService
from handlers.graph import Graph
from handlers.web.pages import console_of, pick_page_locale, signed_in
from handlers.web.security import FILES_ALLOWED, STAFF, Handler, access, files_of, form_of

REGISTRY: web.AppKey[RegistryService] = web.AppKey("registry", RegistryService)
UPLOADS: web.AppKey[dict[int, Pending]] = web.AppKey("registry_uploads", dict)
UPLOAD_PATH = "/registry/check"
UPLOAD_MAX = 25 * 1024 * 1024  # a 100,000-row export; every other form keeps its 64 KiB
PENDING_FOR = timedelta(minutes=15)
_MAX_MAP = 2000


@dataclass(frozen=True)
class Pending:
    """A checked upload waiting for the member's confirmation."""

    token: str
    name: str
    data: bytes
    mapping: dict[str, str]
    until: datetime


def add_routes(app: web.Application, graph: Graph) -> None:
    """Add the registry's routes, its service and the upload size to the console app."""
    app[REGISTRY] = graph.registry
    app[UPLOADS] = {}
    # Before the session and CSRF middlewares read the form: only the upload may be large.
    app.middlewares.insert(0, allow_upload)
    app.router.add_get("/registry", show_registry)
    app.router.add_post(UPLOAD_PATH, check_upload)
    app.router.add_post("/registry/import", confirm_import)
    app.router.add_get("/registry/export.xlsx", export_registry)
    app.router.add_post(r"/registry/classes/{code:[0-9-]{10,20}}/{kind:cards|links}", invite)
    app.router.add_get(r"/registry/classes/{code:[0-9-]{10,20}}/class-link.pdf", class_link)
    app.router.add_post("/registry/matches", decide_match)


@web.middleware
async def allow_upload(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let the registry's upload form be as large as an export; nothing else."""
    if request.method != "POST" or request.path != UPLOAD_PATH:
        return await handler(request)
    request = request.clone(client_max_size=UPLOAD_MAX)
    request[FILES_ALLOWED] = True
    try:
        return await handler(request)
    finally:
        # aiohttp spools an uploaded file to a temporary file; close it whoever answered
        # (a refused CSRF token answers before the route reads the file). Only files the
        # form check accepted exist: a malformed body was refused before any was kept.
        for upload in files_of(request).values():
            upload.file.close()


def _service(request: web.Request) -> RegistryService:
    return request.app[REGISTRY]


def _words(request: web.Request) -> Any:
    renderer = _service(request).deps.renderer
    locale = pick_page_locale(request)

    def r(block: str, **ctx: Any) -> str:
        return renderer.label(f"registry.{block}", locale, **ctx)

    return r


def _bot(request: web.Request) -> str | None:
    console = console_of(request)
    return console.bot_username or console.settings.bot_username


async def _page(request: web.Request, status: int = 200, **ctx: Any) -> web.Response:
    service = _service(request)
    locale = pick_page_locale(request)
    classes = await service.classes()
    renderer = service.deps.renderer
    return console_of(request).pages.render(
        request,
        "registry.html",
        status=status,
        r=_words(request),
        classes=[
            (
                c,
                f"{service.programme_label(c.key.crebo, locale)} ({c.key.crebo}), "
                + renderer.label("labels.level", locale, level=c.key.level),
                renderer.label("labels.graduation", locale, year=c.key.year, month=c.key.month),
            )
            for c in classes
        ],
        purposes=[
            (p, renderer.label(f"labels.purpose_{p}", locale))
            for p in (classes[0].consented if classes else {})
        ],
        k=MIN_GROUP,
        matches=await service.matches(),
        programme=lambda crebo: service.programme_label(crebo, locale),
        bot=_bot(request),
        imported=request.query.get("imported") == "1",
        decided=request.query.get("decided") == "1",
        message=ctx.pop("message", None),
        **ctx,
    )


@access(STAFF)
async def show_registry(request: web.Request) -> web.StreamResponse:
    """The upload form, the classes with their figures, the likely matches."""
    return await _page(request)


@access(STAFF)
async def check_upload(request: web.Request) -> web.StreamResponse:
    """Check an uploaded export (a dry run) and show what would change."""
    form = form_of(request)
    upload = files_of(request).get("file")
    raw_map = form.get("map")
    r = _words(request)
    if not isinstance(upload, web.FileField) or not upload.filename:
        return await _page(request, status=422, message=r("upload_missing"))
    name = str(upload.filename)[:200]
    data = upload.file.read()
    service = _service(request)
    renderer, locale = service.deps.renderer, pick_page_locale(request)
    try:
        lines = [line for line in str(raw_map or "")[:_MAX_MAP].splitlines() if line.strip()]
        mapping = parse_mapping(lines)
        report = await service.import_file(name, data, mapping=mapping, dry_run=True)
    except ImportFileError as error:
        return await _page(request, status=422, message=words.file_error(renderer, error, locale))
    principal = signed_in(request)
    pending: Pending | None = None
    if report.ok:
        pending = Pending(
            token=secrets.token_urlsafe(16),
            name=name,
            data=data,
            mapping=mapping,
            until=service.deps.clock.now() + PENDING_FOR,
        )
        request.app[UPLOADS][principal.staff_id] = pending
    await console_of(request).auth.audit(principal, "check:registry", name[:100])
    return console_of(request).pages.render(
        request,
        "registry_report.html",
        status=200 if report.ok else 422,
        r=r,
        report=words.view(renderer, report, locale),
        file_name=name,
        pending=pending,
        shown=50,
    )


@access(STAFF)
async def confirm_import(request: web.Request) -> web.StreamResponse:
    """Import the checked upload the member confirms (checked again: all or nothing)."""
    form = form_of(request)
    principal = signed_in(request)
    pending = request.app[UPLOADS].get(principal.staff_id)
    service = _service(request)
    r = _words(request)
    token = form.get("upload")
    if (
        pending is None
        or not isinstance(token, str)
        or not secrets.compare_digest(token, pending.token)
        or pending.until < service.deps.clock.now()
    ):
        return await _page(request, status=409, message=r("upload_expired"))
    del request.app[UPLOADS][principal.staff_id]
    try:
        report = await service.import_file(
            pending.name, pending.data, mapping=pending.mapping, dry_run=False
        )
    except ImportFileError as error:
        renderer, locale = service.deps.renderer, pick_page_locale(request)
        return await _page(request, status=422, message=words.file_error(renderer, error, locale))
    if not report.applied:
        return await _page(request, status=422, message=r("upload_expired"))
    await console_of(request).auth.audit(principal, "import:registry", pending.name[:100])
    raise web.HTTPSeeOther("/registry?imported=1")


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@access(STAFF)
async def export_registry(request: web.Request) -> web.StreamResponse:
    """Download the registry as .xlsx."""
    service = _service(request)
    locale = pick_page_locale(request)
    await console_of(request).auth.audit(signed_in(request), "export:registry", None)
    name = _words(request)("export_filename", date=service.today().isoformat())
    return _download(
        await service.export_xlsx(locale),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"{name}.xlsx",
    )


async def _class(request: web.Request) -> ClassKey:
    key = ClassKey.parse(request.match_info["code"])
    if key is None or key not in [c.key for c in await _service(request).classes()]:
        raise web.HTTPNotFound()
    return key


@access(STAFF)
async def invite(request: web.Request) -> web.StreamResponse:
    """Make a class's invitations anew: printable cards (PDF) or links (CSV)."""
    key = await _class(request)
    bot = _bot(request)
    if not bot:
        return await _page(request, status=409, message=_words(request)("no_bot"))
    service = _service(request)
    locale = pick_page_locale(request)
    pack = await service.invitation_pack(bot, key, locale)
    kind = request.match_info["kind"]
    await console_of(request).auth.audit(signed_in(request), f"invite:{kind}", key.code)
    name = _words(request)("invitations_filename", code=key.code)
    if kind == "cards":
        return _download(pack.pdf, "application/pdf", f"{name}.pdf")
    return _download(pack.csv, "text/csv", f"{name}.csv")


@access(STAFF)
async def class_link(request: web.Request) -> web.StreamResponse:
    """Download a class's reusable link as a QR sheet (no personal data)."""
    key = await _class(request)
    bot = _bot(request)
    if not bot:
        return await _page(request, status=409, message=_words(request)("no_bot"))
    pdf = _service(request).class_sheet(bot, key, pick_page_locale(request))
    name = _words(request)("class_filename", code=key.code)
    return _download(pdf, "application/pdf", f"{name}.pdf")


def _id(raw: object) -> int | None:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return None


@access(STAFF)
async def decide_match(request: web.Request) -> web.StreamResponse:
    """A coordinator's decision on a likely match: the same person (link) or not."""
    form = form_of(request)
    graduate_id, alumnus_id = _id(form.get("graduate")), _id(form.get("alumnus"))
    decision = form.get("decision")
    if graduate_id is None or alumnus_id is None or decision not in ("same", "other"):
        raise web.HTTPBadRequest()
    await _service(request).decide_match(graduate_id, alumnus_id, same=decision == "same")
    await console_of(request).auth.audit(
        signed_in(request), f"match:{decision}", f"{graduate_id}:{alumnus_id}"
    )
    raise web.HTTPSeeOther("/registry?decided=1")
