"""The composition root: the one place the service graph is built.

The bot, the console, the CLI, the benchmarks and the tests all call :func:`build_graph`.
Each service is built once, here, and handed what it needs; no service builds another. The
chat router's table is filled here too, one registration line per feature, in the order
the features' handlers should be tried (the table refuses a key registered twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.aftercare import chat as aftercare_chat
from bot.aftercare.policy import AftercarePolicy
from bot.aftercare.service import AftercareService
from bot.campaigns import chat as campaigns_chat
from bot.campaigns.policy import CampaignPolicy
from bot.campaigns.service import CampaignService
from bot.campaigns.studio import Studio
from bot.chat import basics
from bot.chat.router import ChatRouter
from bot.core.catalogue import Catalogue
from bot.core.clock import Clock, SystemClock
from bot.core.deps import Deps
from bot.core.messenger import Messenger
from bot.core.render import Renderer
from bot.core.settings import Settings
from bot.delivery.dispatcher import Dispatcher
from bot.inbox import chat as inbox_chat
from bot.inbox.desk import Desk
from bot.inbox.service import InboxService
from bot.monitor.service import MonitorService
from bot.privacy import chat as privacy_chat
from bot.privacy.service import ConsentService, PrivacyService
from bot.profile import chat as profile_chat
from bot.registry import chat as registry_chat
from bot.registry.service import RegistryService
from bot.staff.chat import StaffLinkChat
from bot.staff.service import ConsoleAuth, StaffLinks, StaffService
from bot.surveys import chat as surveys_chat
from bot.surveys.console import SurveyConsole
from bot.surveys.service import SurveyService
from storage.db import make_engine
from storage.repositories import Storage


@dataclass(frozen=True)
class Graph:
    """Every service of one process, built once."""

    deps: Deps
    dispatcher: Dispatcher
    consent: ConsentService
    privacy: PrivacyService
    inbox: InboxService
    campaigns: CampaignService
    desk: Desk  # the console's inbox
    studio: Studio  # the console's offers and campaigns
    aftercare: AftercareService
    surveys: SurveyService
    survey_console: SurveyConsole  # the console's surveys page
    monitor: MonitorService
    staff: StaffService
    auth: ConsoleAuth
    staff_links: StaffLinks
    staff_link_chat: StaffLinkChat
    router: ChatRouter
    registry: RegistryService


def make_deps(
    settings: Settings,
    *,
    messenger: Messenger,
    clock: Clock | None = None,
    storage: Storage | None = None,
) -> Deps:
    """Open the database and load the words and catalogues every service shares.

    Args:
        settings: the deployment's settings.
        messenger: the way out: the Telegram adapter in the bot, a queue-only messenger in a
            process that does not send (the CLI, a console on its own).
        clock: the time source; tests pass a frozen clock.
        storage: an open database; by default one is made from ``settings.database_url``.
    """
    return Deps(
        settings=settings,
        storage=storage or Storage(make_engine(settings.database_url)),
        renderer=Renderer(settings.content_dir),
        catalogue=Catalogue(settings.content_dir / "catalogue"),
        clock=clock or SystemClock(),
        messenger=messenger,
    )


def build_graph(deps: Deps) -> Graph:
    """Build every service of one process on ``deps`` (see :func:`make_deps`)."""
    settings = deps.settings
    secret = settings.secret_key.get_secret_value()
    dispatcher = Dispatcher(deps)
    dispatcher.screen(CampaignPolicy(deps))
    consent = ConsentService(deps)
    privacy = PrivacyService(deps, consent)
    inbox = InboxService(deps, dispatcher)
    campaigns = CampaignService(deps, consent, inbox)
    aftercare = AftercareService(deps, dispatcher, inbox, campaigns)
    dispatcher.screen(AftercarePolicy(aftercare.schedule))
    surveys = SurveyService(deps, dispatcher, inbox)
    staff_links = StaffLinks(deps.storage, deps.clock, secret)
    registry = RegistryService(deps)

    profile_flow = profile_chat.ProfileFlow(deps, consent)

    # What each feature holds about a person (/mijngegevens, /verwijderen): one line each.
    personal = privacy.personal
    personal.declare("profile", ("alumnus", "conversation_state"), privacy.export_profile)
    personal.describe_with(profile_flow.describe)
    personal.declare("privacy", ("consent_event",), privacy.export_consent)
    personal.declare(
        "inbox", ("inbox_conversation", "inbox_message"), inbox.export, forget=inbox.forget
    )
    personal.declare("campaigns", ("digest_item", "offer_response"), campaigns.export)
    personal.declare("delivery", ("outbox",), dispatcher.export)
    personal.declare(
        "registry",
        ("graduate", "invitation", "match_dismissal"),
        registry.export_of,
        forget=registry.forget,
    )
    personal.declare("aftercare", ("checkin", "checkin_answer"), aftercare.export_of)
    personal.declare("surveys", ("survey_mark", "survey_progress"), surveys.export_of)

    router = ChatRouter(deps)
    basics.register(router, deps)
    profile_chat.register(router, profile_flow)
    privacy_chat.register(router, privacy_chat.PrivacyChat(privacy))
    inbox_chat.register(router, inbox_chat.QuestionFlow(inbox))
    campaigns_chat.register(router, campaigns_chat.OfferButtons(campaigns))
    registry_chat.register(router, registry_chat.ClaimFlow(deps, registry))
    aftercare_chat.register(router, aftercare_chat.CheckinChat(aftercare))
    surveys_chat.register(router, surveys_chat.SurveyChat(surveys))

    return Graph(
        deps=deps,
        dispatcher=dispatcher,
        consent=consent,
        privacy=privacy,
        inbox=inbox,
        campaigns=campaigns,
        desk=Desk(deps, inbox, dispatcher.wake),
        studio=Studio(deps, campaigns, dispatcher.wake),
        aftercare=aftercare,
        surveys=surveys,
        survey_console=SurveyConsole(deps, surveys, dispatcher.wake),
        monitor=MonitorService(deps, aftercare.schedule),
        staff=StaffService(deps.storage, deps.clock),
        auth=ConsoleAuth(deps.storage, deps.clock, settings),
        staff_links=staff_links,
        staff_link_chat=StaffLinkChat(deps, staff_links),
        router=router,
        registry=registry,
    )
