"""SendGrid's signed Event Webhook: `X-Twilio-Email-Event-Webhook-Signature: <base64>`, an
ECDSA P-256 / SHA-256 signature (DER) of `X-Twilio-Email-Event-Webhook-Timestamp` followed
by the raw body, under the verification key shown in Mail Settings (base64 DER, or PEM).

SendGrid keeps the private key, so nothing can be re-signed. SendGrid enforces no time
window, and neither does its SDK.
"""

from __future__ import annotations

from inspector.core.signatures.keys import EcdsaKey, ecdsa_public
from inspector.core.signatures.scheme import PublicKeyScheme, Reading

HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class SendGrid(PublicKeyScheme[EcdsaKey]):
    name = "sendgrid"
    title = "SendGrid"
    signature_headers = (HEADER,)
    secret_envs = ("SENDGRID_WEBHOOK_PUBLIC_KEY", "SENDGRID_WEBHOOK_VERIFICATION_KEY")
    header = HEADER
    encoding = "base64"
    signing = "ECDSA P-256"
    timestamp_header = TIMESTAMP
    cannot_resign = "SendGrid signs with its private key; only its verification key is here"
    hint = "pass --secret (the Event Webhook's verification key, base64, in Mail Settings)"

    def signature_sizes(self, reading: Reading) -> tuple[int, ...]:
        return ()  # DER: 70 to 72 bytes

    def key(self, secret: str) -> EcdsaKey | None:
        key = ecdsa_public(secret)
        return key if isinstance(key, EcdsaKey) else None

    def key_fault(self, secret: str) -> str:
        fault = ecdsa_public(secret)
        return f"the verification key {fault}" if isinstance(fault, str) else ""
