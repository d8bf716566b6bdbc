"""Wire codes of the CEB message standard (ceb-messages.md), as enums whose values are the codes."""

from __future__ import annotations

from datetime import timedelta, timezone
from enum import StrEnum

CEB_NS = "http://www.chinaport.gov.cn/ceb"
DXP_NS = "http://www.chinaport.gov.cn/dxp"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

#: Customs stamps every time (returnTime, appTime, SendTime, appointment times) in Beijing
#: time without an offset; we make it explicit so that such a time never gets compared with
#: a UTC time by accident.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

#: receiver id of the export e-commerce system on the exchange platform
EXPORT_RECEIVER_ID = "DXPEDCCEB0000003"
IMPORT_RECEIVER_ID = "DXPEDCCEB0000002"


class AppType(StrEnum):
    ADD = "1"
    MODIFY = "2"
    DELETE = "3"


class AppStatus(StrEnum):
    SAVE = "1"
    DECLARE = "2"


class OrderType(StrEnum):
    B2C_EXPORT = "E"
    B2B_EXPORT = "B"
    OVERSEAS_WAREHOUSE = "W"


class ReturnStatus(StrEnum):
    """returnStatus of CEB receipts. Negative codes are errors and are not members."""

    EPORT_SAVED = "1"
    EPORT_DECLARING = "2"
    SENT_TO_CUSTOMS = "3"
    SEND_TO_CUSTOMS_FAILED = "4"
    RETURNED = "100"
    STORED = "120"
    MANUAL_REVIEW = "300"
    CONCLUDED = "399"
    INSPECTION = "500"
    HANDED_OVER = "505"
    SUSPENDED = "600"
    RELEASED = "800"
    CLOSED = "899"


class ExchangeErrorCode(StrEnum):
    """Transport-level error code ranges of the exchange layer (CEB900 returnInfo `Code:`)."""

    SCHEMA_INVALID = "0002"
    SIGNATURE_INVALID = "1001"
    CERTIFICATE_EXPIRED = "1002"
    SIGNATURE_MISMATCH = "1004"
    UNKNOWN_RECEIVER = "2001"
    SYSTEM = "3001"

    @property
    def family(self) -> str:
        n = int(self.value)
        if n < 1000:
            return "format"
        if n < 2000:
            return "security"
        if n < 3000:
            return "routing"
        return "system"


#: ISO-4217-like customs currency codes (海关币制代码) accepted by the gateway's own checks.
CURRENCIES: dict[str, str] = {
    "110": "HKD",
    "116": "JPY",
    "121": "MOP",
    "129": "PHP",
    "132": "SGD",
    "133": "KRW",
    "136": "THB",
    "142": "CNY",
    "300": "EUR",
    "302": "DKK",
    "303": "GBP",
    "326": "NOK",
    "330": "SEK",
    "331": "CHF",
    "344": "RUB",
    "501": "CAD",
    "502": "USD",
    "601": "AUD",
    "609": "NZD",
}
