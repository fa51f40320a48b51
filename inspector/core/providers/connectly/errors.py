"""What Connectly's error codes mean and what to do about them.

From the error-code table of Connectly's docs (docs.connectly.ai/messaging/error-codes, the
same list as the GitBook "Error codes" and "Delivery Status Error Codes" pages). The docs
give a cause per code and no separate fix column: `fix` is the action the cause text or the
FAQ states, or else the general advice every example gives, to pass the `cntTraceId` to
Connectly. The same codes come back in `statusUpdate.error` of a `delivery_failed` event and
in the body of a failed API call.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Explanation:
    meaning: str
    fix: str


SUPPORT = "send the trace id (cntTraceId) to Connectly support: they can look the failure up"

CATALOGUE: dict[str, Explanation] = {
    "ERROR_CODE_INVALID_SENDER_ID": Explanation(
        "the phone number used as the sender is not valid",
        "check the sender number (one of your WhatsApp numbers on Connectly); " + SUPPORT),
    "ERROR_CODE_PHONE_NUMBER_BAD_FORMAT": Explanation(
        "the recipient phone number is in an incorrect format",
        "write the number in E.164 form, such as +16044441111"),
    "ERROR_CODE_MESSAGE_ATTACHMENTS_NUMBER_INVALID": Explanation(
        "wrong number of attachments: Connectly sends one attachment per message",
        "send a single attachment per message"),
    "ERROR_CODE_MESSAGE_TEXT_EMPTY": Explanation(
        "the message text is empty", "give the message a text"),
    "ERROR_CODE_MESSAGE_TEMPLATE_NOT_FOUND": Explanation(
        "no template has that name and language",
        "create the template (and have it approved) first, or fix its name or language"),
    "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID": Explanation(
        "the template inputs are not valid",
        "check the template's parameters against the approved template; " + SUPPORT),
    "ERROR_CODE_MESSAGE_ATTACHMENT_EMPTY": Explanation(
        "the attachment URL is empty", "give the attachment a public URL"),
    "ERROR_CODE_MESSAGE_ATTACHMENT_INVALID": Explanation(
        "the attachment URL is invalid and cannot be parsed",
        "give the attachment a valid public URL"),
    "ERROR_CODE_BUSINESS_MISSES_MATCHING_CHANNEL": Explanation(
        "the business has no sender channel of the required channel type",
        "connect a channel of that type to the business, or send on one it has"),
    "ERROR_CODE_MESSAGE_OUTSIDE_OF_ELIGIBILITY_WINDOW": Explanation(
        "more than 24 hours have passed since the customer last wrote",
        "send a template message instead; if the customer did write within 24 hours and "
        "you have several numbers, set the sender explicitly"),
    "ERROR_CODE_BUSINESS_REACHED_LIMITS": Explanation(
        "the channel is restricted: too many earlier messages were blocked or flagged as spam",
        SUPPORT),
    "ERROR_CODE_MESSAGE_SELF_INVALID": Explanation(
        "this message type cannot be sent to yourself", "use a different recipient"),
    "ERROR_CODE_MESSAGE_PHONE_NUMBER_INVALID": Explanation(
        "the recipient phone number is invalid",
        "check the number (E.164, on WhatsApp)"),
    "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT": Explanation(
        "the customer opted out of template messages",
        "do not send templates to this customer unless they opt in again"),
    "ERROR_CODE_MESSAGE_CUSTOMER_NO_CONVERSATION_INITIATION": Explanation(
        "a session message was sent before the customer wrote first",
        "open the conversation with a template message"),
    "ERROR_CODE_BUSINESS_KEY_SECRET_ABSENT": Explanation(
        "the business API secret has not been initialised", "contact the Connectly team"),
    "ERROR_CODE_MESSAGE_TEMPLATE_DELETED": Explanation(
        "new language content cannot be added while the template's existing content is being "
        "deleted", "try again in 4 weeks, or create a new template"),
    "ERROR_CODE_UNSPECIFIED": Explanation(
        "an unexpected error inside Connectly", SUPPORT),
}


def explain(code: str) -> Explanation | None:
    """The catalogue's entry for `code`, or None for a code the docs do not list."""
    return CATALOGUE.get(code)
