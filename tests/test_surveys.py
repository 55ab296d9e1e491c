"""Surveys: sent to a segment, answered with buttons, resumable, stored without the person."""

from __future__ import annotations

import json

import pytest

from bot.core.settings import CONTENT_DIR
from bot.surveys.definition import Survey, load_surveys
from storage.models import (
    InboxConversation,
    InboxMessage,
    OutboxMessage,
    SurveyMark,
    SurveyProgress,
    SurveyResponse,
)
from tests.chat import Chat, buttons
from tests.cli import alumnibot, clean_env
from tests.factories import add_alumnus, staff_team
from tests.harness import processed_of, rows, settle


async def respondent(app, sim, purposes=("surveys",), **profile):
    user = sim.create_user(first_name="Ada")
    alumnus = await add_alumnus(
        app,
        user.id,
        purposes=purposes,
        first_name="Ada",
        **{"crebo": "25180", "level": 4, "graduation_year": 2024, **profile},
    )
    return alumnus, Chat(sim, processed_of(app), user)


async def send_and_deliver(app, sim, code, chats, **filters):
    graph = app.bot_data.graph
    send_id, queued = await graph.surveys.send(code, **filters)
    graph.dispatcher.wake()
    for chat in chats:
        await sim.wait_for_bot_messages(chat.chat_id, 1)
    await graph.dispatcher.idle()
    return send_id, queued


def test_definitions_are_data_with_skip_logic():
    survey = load_surveys(CONTENT_DIR / "surveys")["tevredenheid"]
    assert [q.type for q in survey.questions] == ["scale", "nps", "single", "text", "multi"]
    assert survey.next_step({"bpv": "yes"}, 2) == 4  # "why" skipped after a yes
    assert survey.next_step({"bpv": "no"}, 2) == 3
    with pytest.raises(ValueError):
        Survey.parse({"code": "x", "questions": [{"id": "a", "type": "stars", "text": {}}]})
    with pytest.raises(ValueError):
        Survey.parse(
            {
                "code": "x",
                "questions": [
                    {"id": "a", "type": "text", "text": {}, "show_if": {"question": "b", "in": []}}
                ],
            }
        )


async def test_a_survey_is_answered_resumed_and_stored_without_the_person(app, sim, clock):
    people = [await respondent(app, sim, location="utrecht") for _ in range(6)]
    (ada, chat), _others = people[0], people[1:]
    await respondent(app, sim, purposes=("llo",))  # no consent for surveys: not asked
    await respondent(app, sim, crebo="25491")  # outside the segment
    _send_id, queued = await send_and_deliver(
        app, sim, "tevredenheid", [c for _, c in people], crebos=["25180"]
    )
    assert queued == 6
    invitation = chat.last
    assert "Hoe kijk je terug op je opleiding?" in invitation.text
    assert "Vraag 1" in invitation.text
    await chat.tap("4", message=invitation)
    await chat.tap("9", message=invitation)
    await chat.tap("Een beetje", message=invitation)
    assert "Wat kon er beter" in chat.last.text
    # Resumable: a command in between, then the typed answer still counts.
    await chat.say("/help")
    await chat.say("Meer begeleiding <b>graag</b>")
    question = chat.last
    assert "Waar wil je meer over horen" in question.text
    await chat.tap("Cursussen", message=question)
    await chat.tap("Mentor worden", message=question)
    await chat.tap("Cursussen", message=question)  # untick
    question = next(m for m in chat.messages if m.message_id == question.message_id)
    assert "✅ Mentor worden" in [t for t, _ in buttons(question)]
    await chat.tap("Klaar", message=question)
    question = next(m for m in chat.messages if m.message_id == question.message_id)
    assert "anoniem opgeslagen" in question.text

    [response] = await rows(app, SurveyResponse)
    assert response.answers == {
        "prepared": 4,
        "recommend": 9,
        "bpv": "partly",
        "bpv_why": "Meer begeleiding <b>graag</b>",
        "wishes": ["mentor"],
    }
    assert (response.crebo, response.level, response.cohort, response.location) == (
        "25180",
        4,
        "2024",
        "utrecht",
    )
    assert len(response.id) == 32 and not hasattr(response, "alumnus_id")
    assert response.submitted_in == "2026-06"
    [mark] = await rows(app, SurveyMark)
    assert (mark.alumnus_id, mark.responded_in) == (ada.id, "2026-06")
    assert await rows(app, SurveyProgress) == []

    # One response per person: the old buttons and a new send do nothing more.
    await chat.press(buttons(invitation)[0][1] if buttons(invitation) else "s:1:0:4", invitation)
    assert len(await rows(app, SurveyResponse)) == 1
    _, again = await app.bot_data.graph.surveys.send("tevredenheid", crebos=["25180"])
    assert again == 0  # one invitation per person and survey; ada responded


async def answer_until_typed(chat):
    """Answer the first three questions so the typed one ("Wat kon er beter?") is open."""
    invitation = chat.last
    await chat.tap("4", message=invitation)
    await chat.tap("9", message=invitation)
    await chat.tap("Een beetje", message=invitation)
    assert "Wat kon er beter" in chat.last.text
    return invitation


async def test_a_worrying_typed_answer_offers_help_and_contact_not_the_answer(app, sim, clock):
    await staff_team(app, sim, "nazorg")
    (ada, chat), (_, bobs) = await respondent(app, sim), await respondent(app, sim)
    await send_and_deliver(app, sim, "tevredenheid", [chat, bobs])
    await answer_until_typed(chat)
    replies = await chat.say("Sinds de stage ben ik depressief en zie ik geen uitweg")
    [offer] = [m for m in replies if "113" in (m.text or "")]
    assert "anoniem" in offer.text
    assert [t for t, _ in buttons(offer)] == ["Ja, neem contact op", "Nee, dank je"]
    assert "Waar wil je meer over horen" in replies[-1].text  # the survey goes on
    # Nothing reaches the school before the person says yes.
    assert await rows(app, InboxConversation) == []

    replies = await chat.tap("Ja, neem contact op", message=offer)
    assert "zo snel mogelijk" in replies[-1].text
    offer = next(m for m in chat.messages if m.message_id == offer.message_id)
    assert buttons(offer) == []
    [conversation] = await rows(app, InboxConversation)
    assert conversation.alumnus_id == ada.id and conversation.urgent_since is not None
    said = " ".join(m.text or "" for m in await rows(app, InboxMessage))
    assert "MET VOORRANG" in said and "vraagt deze alumnus om contact" in said
    assert "depressief" not in said  # the answer stays anonymous
    # A replayed tap adds nothing.
    await chat.press(f"sc:{conversation.context['send_id']}:y", offer)
    notes = [m for m in await rows(app, InboxMessage) if "MET VOORRANG" in (m.text or "")]
    assert len(notes) == 1

    # "No" opens nothing; an ordinary answer offers nothing.
    await answer_until_typed(bobs)
    replies = await bobs.say("Ik voel me wanhopig")
    offer = next(m for m in replies if buttons(m))
    replies = await bobs.tap("Nee, dank je", message=offer)
    assert "/vraag" in replies[-1].text
    assert len(await rows(app, InboxConversation)) == 1
    (_, carl) = await respondent(app, sim)
    await send_and_deliver(app, sim, "tevredenheid", [carl])
    await answer_until_typed(carl)
    replies = await carl.say("Meer stageplekken in de buurt")
    assert not any("113" in (m.text or "") for m in replies)
    # A forged contact button (an unknown send, or a survey never sent to this person) is
    # stale, not a conversation.
    await carl.press("sc:999999:y")
    (_, dan) = await respondent(app, sim)
    await dan.say("/help")
    await dan.press(f"sc:{conversation.context['send_id']}:y")
    assert len(await rows(app, InboxConversation)) == 1


async def test_small_groups_are_stored_coarser(app, sim, clock):
    _ada, chat = await respondent(app, sim, location="utrecht", graduation_year=2023)
    for year in (2020, 2021, 2022, 2024):  # the same programme, other cohorts
        await respondent(app, sim, graduation_year=year, location="amersfoort")
    await send_and_deliver(app, sim, "tevredenheid", [chat], crebos=["25180"])
    for label in ("3", "7", "Ja"):
        await chat.tap(label)
    await chat.tap("Klaar")
    [response] = await rows(app, SurveyResponse)
    # Alone in 2023 and in Utrecht: location dropped, the cohort widened to 2020-2024.
    assert (response.cohort, response.location) == ("2020-2024", None)


async def test_the_export_has_marks_and_erasure_leaves_the_anonymous_response(app, sim, clock):
    ada, chat = await respondent(app, sim)
    await send_and_deliver(app, sim, "tevredenheid", [chat])
    await chat.tap("5")
    replies = await chat.say("/mijngegevens")
    [document] = [m for m in replies if m.document]
    data = json.loads(sim.file_bytes(document.document["file_id"]))
    assert data["tables"]["survey_progress"][0]["answers"] == {"prepared": 5}
    for label in ("10", "Ja"):
        await chat.tap(label)
    await chat.tap("Klaar")
    replies = await chat.say("/mijngegevens")
    [document] = [m for m in replies if m.document]
    data = json.loads(sim.file_bytes(document.document["file_id"]))
    [mark] = data["tables"]["survey_mark"]
    assert (mark["survey"], mark["responded_in"]) == ("tevredenheid", "2026-06")
    assert data["tables"]["survey_progress"] == []
    graph = app.bot_data.graph
    async with graph.deps.storage.transaction() as tx:
        await graph.privacy.erase(tx, await tx.alumni.by_chat(chat.chat_id))
    assert await rows(app, SurveyMark) == []
    assert len(await rows(app, SurveyResponse)) == 1  # not personal data: it stays
    assert [r for r in await rows(app, OutboxMessage) if r.alumnus_id == ada.id] == []


async def test_a_school_sends_a_survey_from_the_command_line(app, sim, settings, tmp_path):
    """`alumnibot surveys send CODE` queues the invitations; the running bot sends them."""
    ada, _chat = await respondent(app, sim)
    await respondent(app, sim, purposes=())  # no consent to surveys: not invited
    env = clean_env(ALUMNIBOT_DATABASE_URL=settings.database_url, ALUMNIBOT_CLI_LOCALE="en")
    code, out, err = await alumnibot(env, tmp_path, "surveys", "list")
    assert code == 0 and "tevredenheid" in out, err
    code, out, err = await alumnibot(env, tmp_path, "surveys", "send", "tevredenheid")
    assert code == 0, err
    assert "Survey tevredenheid: 1 invitation is queued to be sent." in out
    code, _, err = await alumnibot(env, tmp_path, "surveys", "send", "onbekend")
    assert code == 1 and "There is no survey onbekend" in err
    # A code the catalogue does not know would match nobody: refused, nothing queued.
    code, _, err = await alumnibot(
        env, tmp_path, "surveys", "send", "tevredenheid", "--crebo", "99999", "--region", "XX"
    )
    assert code == 1 and "--crebo 99999: unknown" in err and "--region XX: unknown" in err
    code, _, err = await alumnibot(
        env,
        tmp_path,
        "surveys",
        "send",
        "tevredenheid",
        "--cohort-from",
        "2026",
        "--cohort-to",
        "2024",
    )
    assert code == 1 and "--cohort-to 2024:" in err
    # Queued for Ada only (the command's own clock is the real one, the bot's is frozen in
    # these tests, so the row is checked rather than sent).
    invited = [r.alumnus_id for r in await rows(app, OutboxMessage)]
    assert invited == [ada.id]


async def test_only_alumni_whose_latest_consent_to_surveys_is_a_grant_get_one(app, sim):
    """Consent is checked when the invitations are queued, and again when each is sent."""
    graph = app.bot_data.graph
    asked, asked_chat = await respondent(app, sim)
    _, never = await respondent(app, sim, purposes=("llo", "aftercare"))
    withdrew, withdrew_chat = await respondent(app, sim)
    later, later_chat = await respondent(app, sim)
    async with graph.deps.storage.transaction() as tx:
        await graph.consent.set(tx, withdrew, "surveys", False, "privacy", 2)
    assert await graph.surveys.reach("tevredenheid") == 2  # asked and later
    dispatcher = graph.dispatcher
    _, queued = await graph.surveys.send("tevredenheid")
    assert queued == 2
    # Withdrawn after the invitation was queued, before it went out: it does not go out.
    async with graph.deps.storage.transaction() as tx:
        await graph.consent.set(tx, later, "surveys", False, "privacy", 3)
    dispatcher.wake()
    await sim.wait_for_bot_messages(asked_chat.chat_id, 1)
    await settle(app)
    assert "Hoe kijk je terug" in asked_chat.last.text
    for chat in (never, withdrew_chat, later_chat):
        assert sim.bot_messages(chat.chat_id) == []
    invited = {r.alumnus_id: r.status for r in await rows(app, OutboxMessage)}
    assert invited == {asked.id: "sent", later.id: "cancelled"}
