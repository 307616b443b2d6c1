"""The upgrade conversation: check the card, confirm it is the person's ordinary card and
that they have their codes, start the job on the card agent, send the user to the agent's
own PIN page, follow the job.

PINs never pass through here: the user types them on the agent's local page.
The chat stays in step with that page: asked ("Är det klart?"), when the user
greets it again, and by its own check-back (a reminder), it says whether the
page still waits (and whether it has been opened), and what went wrong when the
job failed, rolled back or was cancelled: every error code the agent reports has its
own response in domain.yml (the agent sends codes, never words).

A page link is shown only when it is on the agent's own loopback origin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import card_puk
from actions.agent_client import CardAgentError
from actions.card_access import AgentAnswer, AgentCall, agent_page_url, run_step
from actions.card_check import READ_STATE, explain_state, upgradable
from actions.card_puk import has_token
from actions.card_states import role_key
from actions.card_texts import explain_error

CHECK_BACK_AFTER = timedelta(seconds=15)
CHECK_BACK_INTENT = "EXTERNAL_upgrade_check"
FINISHED = {"succeeded", "failed", "rolled_back", "cancelled"}

FORM_SLOTS = ("upgrade_card_is_ordinary", "upgrade_has_codes")

# Why a finished job did not succeed (error_code) -> response. Else utter_upgrade_failed.
FAILED_RESPONSES = {
    "enrollment_unavailable": "utter_upgrade_failed_enrollment",
    "enrollment_rejected": "utter_upgrade_failed_rejected",
    "certificate_check_failed": "utter_upgrade_failed_check",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "token_error": "utter_upgrade_failed_card_error",
    "card_object_unidentified": "utter_upgrade_failed_unidentified",
}
# Why a job waits for the PIN page again (error_code) -> response (wrong_pin and
# pin_final_try: per code, see code_response).
WAITING_RESPONSES = {
    "card_removed": "utter_upgrade_pin_again",
    "agent_restarted": "utter_upgrade_pin_again",
    "card_busy": "utter_upgrade_card_busy",
}
# Errors when starting a job -> response.
START_ERRORS = {
    "not_upgradable": "utter_upgrade_refused",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
    "enrollment_not_configured": "utter_upgrade_unavailable",
    "missing_pin_token": "utter_upgrade_card_not_supported",
    "old_without_hsa_id": "utter_upgrade_card_not_supported",
}


def precheck_call() -> AgentCall:
    return AgentCall("upgrade_precheck", READ_STATE.method, READ_STATE.path, label=READ_STATE.label)


def start_call() -> AgentCall:
    return AgentCall("start_upgrade", "POST", "/v1/upgrade", body={},
                     label="utter_wait_starting_upgrade")


def job_call(job_id: str, *, checking_back: bool) -> AgentCall:
    purpose = "job_check_back" if checking_back else "job_status"
    label = "" if checking_back else "utter_wait_checking_upgrade"
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


def report_failure(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    status, code = job.get("status"), job.get("error_code")
    if code in FAILED_RESPONSES:
        dispatcher.utter_message(response=FAILED_RESPONSES[code])
    elif status == "cancelled":
        dispatcher.utter_message(response="utter_upgrade_cancelled")
    else:
        dispatcher.utter_message(response="utter_upgrade_failed")


def code_response(job: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """A wrong code (and how many tries it has left) or a code on its last try, named when
    the agent says which one it is."""
    key = role_key([job["error_role"]]) if job.get("error_role") else "unknown"
    if job.get("error_code") == "pin_final_try":
        return f"utter_upgrade_final_try_{key}", {}
    left = job.get("retries_left")
    if key == "unknown" or not isinstance(left, int) or isinstance(left, bool) or left < 1:
        return "utter_upgrade_wrong_pin_unknown", {}
    return f"utter_upgrade_wrong_pin_{key}", {"retries_left": left}


def report_waiting(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    url = agent_page_url(job.get("pin_page_url"))
    if url is None:  # no page link, or not the agent's own: never shown
        dispatcher.utter_message(response="utter_card_agent_error")
        return
    code, values = job.get("error_code"), {}
    if code in ("wrong_pin", "pin_final_try"):
        response, values = code_response(job)
    elif code in WAITING_RESPONSES:
        response = WAITING_RESPONSES[code]
    elif job.get("page_opened") and not has_token(url):
        response = "utter_upgrade_page_opened_waiting"
    else:
        response = "utter_upgrade_waiting_for_pin"
    dispatcher.utter_message(response=response, pin_page_url=url, **values)


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
    """Only a card that can be upgraded today gets the upgrade form."""
    if isinstance(answer, CardAgentError):
        explain_error(dispatcher, answer)
        return []
    if not upgradable(answer):
        dispatcher.utter_message(response="utter_upgrade_not_possible")
        explain_state(dispatcher, answer)
        return []
    return [SlotSet(s, None) for s in FORM_SLOTS] + [FollowupAction("upgrade_form")]


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
        dispatcher.utter_message(response="utter_upgrade_open_pin_page", pin_page_url=url)
    if not job_id:
        return []
    return [SlotSet("upgrade_job_id", job_id), SlotSet("upgrade_result", None),
            check_back_reminder(job_id)]


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
        return [SlotSet("upgrade_job_id", None), SlotSet("card_state", None),
                SlotSet("upgrade_result", answer.get("status"))]
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
        return await run_step(dispatcher, tracker, precheck_call(), handle_precheck, domain=domain)


class ValidateUpgradeForm(FormValidationAction):
    """A card the person says is a reservkort ends the form: no question about codes."""

    def name(self) -> Text:
        return "validate_upgrade_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if tracker.get_slot("upgrade_card_is_ordinary") is False:
            return ["upgrade_card_is_ordinary"]
        return domain_slots


class ActionStartUpgrade(Action):
    """After the form: start the job; a reservkort or missing codes start nothing."""

    def name(self) -> Text:
        return "action_start_upgrade"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reset = [SlotSet(s, None) for s in FORM_SLOTS]
        if tracker.get_slot("upgrade_card_is_ordinary") is not True:
            dispatcher.utter_message(response="utter_upgrade_reservkort")
            return reset
        if not tracker.get_slot("upgrade_has_codes"):
            dispatcher.utter_message(response="utter_upgrade_find_codes")
            return reset
        return reset + await run_step(dispatcher, tracker, start_call(), handle_start,
                                      domain=domain)


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
            done = tracker.get_slot("upgrade_result") == "succeeded"
            dispatcher.utter_message(
                response="utter_upgrade_already_done" if done else "utter_no_upgrade_job"
            )
            return []
        events: List[Dict[Text, Any]] = []
        if job_id:
            call = job_call(job_id, checking_back=False)
            events += await run_step(dispatcher, tracker, call, handle_job_status, domain=domain)
        if order_id:
            events += await run_step(
                dispatcher, tracker, card_puk.order_status_call(order_id),
                card_puk.handle_order_status, prior=events, domain=domain,
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
            dispatcher, tracker, job_call(job_id, checking_back=False), handle_job_status,
            domain=domain,
        )
