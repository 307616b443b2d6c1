"""The upgrade conversation: check the card, confirm the codes, start the job
on the card agent, send the user to the agent's own PIN page, follow the job.

PINs never pass through here: the user types them on the agent's local page.
The chat stays in step with that page: asked ("Är det klart?"), when the user
greets it again, and by its own check-back (a reminder), it says whether the
page still waits (and whether it has been opened), and what went wrong when the
job failed, rolled back or was cancelled (its error_code; the agent's own
Swedish message for a code the chat has no answer of its own for).

A page link is shown only when it is on the agent's own loopback origin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import card_puk
from actions.agent_client import CardAgentError
from actions.card_access import AgentAnswer, AgentCall, agent_page_url, run_step
from actions.card_check import READ_STATE, can_be_upgraded, explain_state
from actions.card_puk import has_token
from actions.card_texts import explain_error

CHECK_BACK_AFTER = timedelta(seconds=15)
CHECK_BACK_INTENT = "EXTERNAL_upgrade_check"
FINISHED = {"succeeded", "failed", "rolled_back", "cancelled"}

# Why a finished job did not succeed (error_code) -> response. Else utter_upgrade_failed.
FAILED_RESPONSES = {
    "enrollment_unavailable": "utter_upgrade_failed_enrollment",
    "enrollment_rejected": "utter_upgrade_failed_enrollment",
    "certificate_check_failed": "utter_upgrade_failed_enrollment",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "pin_page_expired": "utter_upgrade_page_expired",
}
# The agent's own message is shown at most this long, without Markdown link marks.
AGENT_MESSAGE_MAX = 300
# Why a job waits for the PIN page again (error_code) -> response.
WAITING_RESPONSES = {
    "wrong_pin": "utter_upgrade_wrong_pin",
    "pin_final_try": "utter_upgrade_final_try",
    "card_removed": "utter_upgrade_pin_again",
    "agent_restarted": "utter_upgrade_pin_again",
    "card_busy": "utter_upgrade_pin_again",
}
# Errors when starting a job -> response.
START_ERRORS = {
    "not_upgradable": "utter_upgrade_not_possible",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
    "enrollment_not_configured": "utter_upgrade_unavailable",
}


def precheck_call() -> AgentCall:
    return AgentCall("upgrade_precheck", READ_STATE.method, READ_STATE.path, label=READ_STATE.label)


def start_call() -> AgentCall:
    return AgentCall("start_upgrade", "POST", "/v1/upgrade", body={},
                     label="Jag startar uppgraderingen …")


def job_call(job_id: str, *, checking_back: bool) -> AgentCall:
    purpose = "job_check_back" if checking_back else "job_status"
    label = "" if checking_back else "Jag kollar hur det går …"
    return AgentCall(purpose, "GET", f"/v1/jobs/{job_id}", label=label)


def job_id_of(job: Dict[str, Any]) -> Optional[str]:
    return job.get("job_id") or job.get("id")


def check_back_reminder(job_id: str) -> Dict[str, Any]:
    return ReminderScheduled(
        CHECK_BACK_INTENT,
        trigger_date_time=datetime.now() + CHECK_BACK_AFTER,
        entities={"job": job_id},
        name=f"upgrade-{job_id}",
        kill_on_user_message=False,
    )


def agent_message(job: Dict[str, Any]) -> str:
    """The agent's Swedish message of a job, as plain text for the chat."""
    text = " ".join(str(job.get("message") or "").split())
    text = "".join(c for c in text if c not in "[]()<>*_`")
    return text[:AGENT_MESSAGE_MAX]


def report_failure(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    status, code = job.get("status"), job.get("error_code")
    if code in FAILED_RESPONSES:
        dispatcher.utter_message(response=FAILED_RESPONSES[code])
    elif status == "cancelled":
        dispatcher.utter_message(response="utter_upgrade_cancelled")
    elif code and agent_message(job):
        dispatcher.utter_message(
            response="utter_upgrade_failed_with_reason", agent_message=agent_message(job)
        )
    else:
        dispatcher.utter_message(response="utter_upgrade_failed")


def report_waiting(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    url = agent_page_url(job.get("pin_page_url"))
    if url is None:  # no page link, or not the agent's own: never shown
        dispatcher.utter_message(response="utter_card_agent_error")
        return
    code = job.get("error_code")
    if code in WAITING_RESPONSES:
        response = WAITING_RESPONSES[code]
    elif job.get("page_opened") and not has_token(url):
        response = "utter_upgrade_page_opened_waiting"
    else:
        response = "utter_upgrade_waiting_for_pin"
    dispatcher.utter_message(response=response, pin_page_url=url)


def report_job(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    """Tell the user where the job stands, in the words of domain.yml."""
    status = job.get("status")
    if status == "succeeded":
        dispatcher.utter_message(response="utter_upgrade_done")
    elif status in FINISHED:
        report_failure(dispatcher, job)
    elif status == "waiting_for_pin":
        report_waiting(dispatcher, job)
    elif status == "waiting_for_card":
        dispatcher.utter_message(response="utter_upgrade_waiting_for_card")
    else:
        dispatcher.utter_message(
            response="utter_upgrade_running", progress=int(job.get("progress") or 0)
        )


# --- handlers of the agent's answers (direct or relayed) ---------------------------------


def handle_precheck(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    """Only a card that can be upgraded gets the upgrade form."""
    if isinstance(answer, CardAgentError):
        explain_error(dispatcher, answer)
        return []
    if not can_be_upgraded(answer):
        dispatcher.utter_message(response="utter_upgrade_not_possible")
        explain_state(dispatcher, answer)
        return []
    return [SlotSet("upgrade_has_codes", None), FollowupAction("upgrade_form")]


def handle_start(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        if answer.code in START_ERRORS:
            dispatcher.utter_message(response=START_ERRORS[answer.code])
        else:
            explain_error(dispatcher, answer)
        return []
    job_id = job_id_of(answer)
    url = agent_page_url(answer.get("pin_page_url"))
    if answer.get("created") is False or url is None:  # the card's job that already runs
        report_job(dispatcher, answer)
    else:
        dispatcher.utter_message(response="utter_upgrade_started", pin_page_url=url)
    if not job_id:
        return []
    return [SlotSet("upgrade_job_id", job_id), check_back_reminder(job_id)]


def _handle_job(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer, checking_back: bool
) -> List[Dict[Text, Any]]:
    job_id = tracker.get_slot("upgrade_job_id")
    if isinstance(answer, CardAgentError):
        if not checking_back:
            explain_error(dispatcher, answer)
        return [check_back_reminder(job_id)] if checking_back and job_id else []
    if answer.get("status") in FINISHED:
        report_job(dispatcher, answer)
        return [SlotSet("upgrade_job_id", None), SlotSet("card_state", None)]
    if not checking_back:
        report_job(dispatcher, answer)
    return [check_back_reminder(job_id_of(answer) or job_id)]


def handle_job_status(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    return _handle_job(dispatcher, tracker, answer, checking_back=False)


def handle_job_check_back(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    return _handle_job(dispatcher, tracker, answer, checking_back=True)


# --- actions ---------------------------------------------------------------------------


class ActionUpgradePrecheck(Action):
    def name(self) -> Text:
        return "action_upgrade_precheck"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return await run_step(dispatcher, tracker, precheck_call(), handle_precheck)


class ActionStartUpgrade(Action):
    """After the form: start the job, or take the lost-codes path from the FAQ."""

    def name(self) -> Text:
        return "action_start_upgrade"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reset = [SlotSet("upgrade_has_codes", None)]
        if not tracker.get_slot("upgrade_has_codes"):
            dispatcher.utter_message(response="utter_upgrade_needs_codes")
            return reset
        return reset + await run_step(dispatcher, tracker, start_call(), handle_start)


class ActionUpgradeStatus(Action):
    """'Är det klart?' - the upgrade job and the PUK order of this conversation;
    and the bot's own check-back on the job (a reminder)."""

    def name(self) -> Text:
        return "action_upgrade_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        job_id = tracker.get_slot("upgrade_job_id")
        order_id = tracker.get_slot("puk_order_id")
        checking_back = tracker.latest_message.get("intent", {}).get("name") == CHECK_BACK_INTENT
        if checking_back:
            if not job_id:
                return []
            call = job_call(job_id, checking_back=True)
            return await run_step(dispatcher, tracker, call, handle_job_check_back)
        if not job_id and not order_id:
            dispatcher.utter_message(response="utter_no_upgrade_job")
            return []
        events: List[Dict[Text, Any]] = []
        if job_id:
            call = job_call(job_id, checking_back=False)
            events += await run_step(dispatcher, tracker, call, handle_job_status)
        if order_id:
            events += await run_step(
                dispatcher, tracker, card_puk.order_status_call(order_id),
                card_puk.handle_order_status, prior=events,
            )
        return events


class ActionGreet(Action):
    """The greeting; a user who comes back while their upgrade job is open also
    hears where it stands (the page may still wait, or have failed)."""

    def name(self) -> Text:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_greet")
        job_id = tracker.get_slot("upgrade_job_id")
        if not job_id:
            return []
        return await run_step(
            dispatcher, tracker, job_call(job_id, checking_back=False), handle_job_status
        )
