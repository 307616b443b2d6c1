"""The upgrade conversation: check the card, confirm the codes, start the job
on the card agent, send the user to the agent's own PIN page, follow the job.

PINs never pass through here: the user types them on the agent's local page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentClient, CardAgentError
from actions.card_check import explain_state, read_card_state
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
}
# Why a job waits for the PIN page again (error_code) -> response.
WAITING_RESPONSES = {
    "wrong_pin": "utter_upgrade_wrong_pin",
    "pin_final_try": "utter_upgrade_final_try",
    "card_removed": "utter_upgrade_pin_again",
    "agent_restarted": "utter_upgrade_pin_again",
}
# Errors when starting a job -> response.
START_ERRORS = {
    "not_upgradable": "utter_upgrade_not_possible",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
    "enrollment_not_configured": "utter_upgrade_unavailable",
}


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


def report_job(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    """Tell the user where the job stands, in the words of domain.yml."""
    status, code = job.get("status"), job.get("error_code")
    if status == "succeeded":
        dispatcher.utter_message(response="utter_upgrade_done")
    elif status == "cancelled":
        dispatcher.utter_message(response="utter_upgrade_cancelled")
    elif status in FINISHED:
        dispatcher.utter_message(response=FAILED_RESPONSES.get(code, "utter_upgrade_failed"))
    elif status == "waiting_for_pin":
        dispatcher.utter_message(
            response=WAITING_RESPONSES.get(code, "utter_upgrade_waiting_for_pin"),
            pin_page_url=job.get("pin_page_url") or "",
        )
    elif status == "waiting_for_card":
        dispatcher.utter_message(response="utter_upgrade_waiting_for_card")
    else:
        dispatcher.utter_message(
            response="utter_upgrade_running", progress=int(job.get("progress") or 0)
        )


class ActionUpgradePrecheck(Action):
    """Only a card in state not_upgraded gets the upgrade; then ask for the codes."""

    def name(self) -> Text:
        return "action_upgrade_precheck"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        job_id = tracker.get_slot("upgrade_job_id")
        client = CardAgentClient()
        if job_id:
            try:
                job = await client.job(job_id)
            except CardAgentError:
                job = {}
            if job and job.get("status") not in FINISHED:
                report_job(dispatcher, job)
                return []
        state = await read_card_state(dispatcher, client)
        if state is None:
            return []
        if state.get("state") != "not_upgraded" and not (
            state.get("state") == "expiring_soon"
            and (state.get("details") or {}).get("base_state") == "not_upgraded"
        ):
            dispatcher.utter_message(response="utter_upgrade_not_possible")
            explain_state(dispatcher, state)
            return []
        return [SlotSet("upgrade_has_codes", None), FollowupAction("upgrade_form")]


class ActionStartUpgrade(Action):
    """After the form: start the job, or take the lost-codes path from the FAQ."""

    def name(self) -> Text:
        return "action_start_upgrade"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if not tracker.get_slot("upgrade_has_codes"):
            dispatcher.utter_message(response="utter_upgrade_needs_codes")
            return [SlotSet("upgrade_has_codes", None)]
        try:
            job = await CardAgentClient().start_upgrade()
        except CardAgentError as error:
            if error.code in START_ERRORS:
                dispatcher.utter_message(response=START_ERRORS[error.code])
            else:
                explain_error(dispatcher, error)
            return [SlotSet("upgrade_has_codes", None)]
        job_id = job_id_of(job)
        if job.get("created") is False:  # the card's job that already runs
            report_job(dispatcher, job)
        else:
            dispatcher.utter_message(
                response="utter_upgrade_started", pin_page_url=job.get("pin_page_url") or ""
            )
        return [
            SlotSet("upgrade_has_codes", None),
            SlotSet("upgrade_job_id", job_id),
            check_back_reminder(job_id),
        ]


class ActionUpgradeStatus(Action):
    """'Är det klart?' - and the bot's own check-back (a reminder)."""

    def name(self) -> Text:
        return "action_upgrade_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        job_id = tracker.get_slot("upgrade_job_id")
        checking_back = tracker.latest_message.get("intent", {}).get("name") == CHECK_BACK_INTENT
        if not job_id:
            if not checking_back:
                dispatcher.utter_message(response="utter_no_upgrade_job")
            return []
        try:
            job = await CardAgentClient().job(job_id)
        except CardAgentError as error:
            if not checking_back:
                explain_error(dispatcher, error)
            return [check_back_reminder(job_id)] if checking_back else []
        status = job.get("status")
        if status in FINISHED:
            report_job(dispatcher, job)
            return [SlotSet("upgrade_job_id", None), SlotSet("card_state", None)]
        if not checking_back:
            report_job(dispatcher, job)
        return [check_back_reminder(job_id)]
