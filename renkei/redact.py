"""Masking of personal data for anything an operator reads (artifacts, reports, logs).

E-mails keep their first character and domain (``t***@example.co.jp``): enough to recognise a
record, not enough to harvest addresses. Phone numbers keep their last two digits.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w])(\+?\d[\d\- ]{6,}\d)(?![\w])")


def mask_email(email: str) -> str:
    """``taro.yamada@example.co.jp`` → ``t***@example.co.jp``."""
    local, _, domain = email.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    """Mask every e-mail address and phone number inside free text."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(1))[-2:], text)
