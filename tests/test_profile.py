"""/profiel, /taal and /help end to end."""

from __future__ import annotations

from storage.models import Alumnus, ConversationState
from tests.chat import buttons, onboard_nl
from tests.harness import rows


async def test_profile_shows_every_field_and_edits_one_group(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    view = (await chat.say("/profiel"))[0]
    assert "Je profiel" in view.text
    assert "Opleiding: Mbo-Verpleegkundige (25655, niveau 4, BBL)" in view.text
    assert "Werkveld: Zorg" in view.text
    assert [t for t, _ in buttons(view)] == [
        "Naam",
        "Locatie",
        "Opleiding",
        "Diploma",
        "Wat ik nu doe",
        "Regio",
        "Interesses",
    ]
    await chat.tap("Wat ik nu doe", message=view)
    assert "Wat doe je nu" in chat.last.text
    reply = await chat.tap("Ik studeer verder")  # no sector question, and the sector is cleared
    assert "Opgeslagen" in reply[-1].text and "Werkveld: –" in reply[-1].text
    [alumnus] = await rows(app, Alumnus)
    assert (alumnus.situation, alumnus.sector) == ("studying", None)
    assert alumnus.crebo == "25655"  # other groups untouched
    assert await rows(app, ConversationState) == []


async def test_editing_the_programme_asks_programme_and_track(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    view = (await chat.say("/profile"))[0]
    await chat.tap("Opleiding", message=view)
    await chat.say("software")
    await chat.tap("Software developer (niveau 4, 25998)")
    await chat.tap("BOL")
    [alumnus] = await rows(app, Alumnus)
    assert (alumnus.crebo, alumnus.level, alumnus.track) == ("25998", 4, "BOL")
    assert "Software developer (25998, niveau 4, BOL)" in chat.last.text


async def test_profile_during_onboarding_resumes_onboarding(app, new_chat):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    reply = await chat.say("/profiel")
    assert "We gaan verder waar je was" in reply[0].text
    assert "Waarvoor mogen we je berichten sturen" in reply[0].text


async def test_language_switch_changes_the_next_messages(app, new_chat):
    chat = new_chat()
    await onboard_nl(chat)
    menu = (await chat.say("/taal"))[0]
    assert "In welke taal" in menu.text
    await chat.tap("English", message=menu)
    assert "from now on I will talk to you in English" in chat.messages[-1].text
    view = (await chat.say("/profile"))[0]
    assert "Your profile" in view.text
    assert "Programme: Nurse (mbo) (25655, level 4, BBL)" in view.text
    [alumnus] = await rows(app, Alumnus)
    assert alumnus.locale == "en"


async def test_language_switch_in_the_middle_of_onboarding_repeats_the_question(app, new_chat):
    chat = new_chat()
    await chat.say("/start")
    await chat.tap("Nederlands")
    await chat.tap("Verder")
    menu = (await chat.say("/language"))[0]
    reply = await chat.tap("English", message=menu)
    assert "What should I call you?" in reply[-1].text


async def test_help_lists_the_commands_in_each_language(app, new_chat):
    nl = (await new_chat(language_code="nl").say("/help"))[0].text
    assert "/mijngegevens" in nl and "/verwijderen" in nl and "/taal" in nl and "/vraag" in nl
    en = (await new_chat(language_code="en").say("/help"))[0].text
    assert "/mydata" in en and "/delete" in en and "/language" in en and "/question" in en


async def test_command_menu_is_registered_per_language(app, sim):
    menus = {
        language: [c["command"] for c in commands]
        for (_, language), commands in sim.commands.items()
    }
    assert menus[""] == [
        "start",
        "vraag",
        "profiel",
        "privacy",
        "mijngegevens",
        "verwijderen",
        "stop",
        "taal",
        "help",
    ]
    assert menus["en"] == [
        "start",
        "question",
        "profile",
        "privacy",
        "mydata",
        "delete",
        "stop",
        "language",
        "help",
    ]


async def test_welcome_back_after_onboarding(app, new_chat):
    chat = new_chat("Sanne")
    await onboard_nl(chat)
    reply = await chat.say("/start")
    assert "Welkom terug, Sanne" in reply[0].text
    reply = await chat.say("hoi daar")
    assert "Waar gaat je vraag over?" in reply[0].text  # outside a flow, a message is a question
