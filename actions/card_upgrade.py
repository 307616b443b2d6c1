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
FINISHED = {"succeeded", "failed", "rolled_back"}

# Job error code -> response (domain.yml). Anything else: utter_upgrade_failed.
JOB_ERROR_RESPONSES = {
    "enrollment_unavailable": "utter_upgrade_failed_enrollment",
    "card_removed": "utter_upgrade_failed_card_removed",
    "pin_blocked": "utter_upgrade_failed_pin_blocked",
    "wrong_pin": "utter_upgrade_failed_wrong_pin",
    "pin_final_try": "utter_upgrade_failed_final_try",
    "cancelled": "utter_upgrade_cancelled",
    "pin_timeout": "utter_upgrade_failed_timeout",
}


def job_id_of(job: Dict[str, Any]) -> Optional[str]:
    return job.get("id") or job.get("job_id")


def check_back_reminder(job_id: str) -> Dict[str, Any]:
    return ReminderScheduled(
        CHECK_BACK_INTENT,
        trigger_date_time=datetime.now() + CHECK_BACK_AFTER,
        entities={"job": job_id},
        name=f"upgrade-{job_id}",
        kill_on_user_message=False,
    )


def report_job(dispatcher: CollectingDispatcher, job: Dict[str, Any]) -> None:
    status = job.get("status")
    if status == "succeeded":
        dispatcher.utter_message(response="utter_upgrade_done")
    elif status in ("failed", "rolled_back"):
        code = (job.get("error") or {}).get("code") if isinstance(job.get("error"), dict) \
            else job.get("error")
        dispatcher.utter_message(response=JOB_ERROR_RESPONSES.get(code, "utter_upgrade_failed"))
    elif status == "waiting_for_pin":
        dispatcher.utter_message(
            response="utter_upgrade_waiting_for_pin", pin_page_url=job.get("pin_page_url", "")
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
            if error.code == "enrollment_unavailable":
                dispatcher.utter_message(response="utter_upgrade_failed_enrollment")
            elif error.code in ("not_upgradable", "wrong_state"):
                dispatcher.utter_message(response="utter_upgrade_not_possible")
            else:
                explain_error(dispatcher, error)
            return [SlotSet("upgrade_has_codes", None)]
        job_id = job_id_of(job)
        dispatcher.utter_message(
            response="utter_upgrade_started", pin_page_url=job.get("pin_page_url", "")
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
