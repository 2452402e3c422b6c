"""Driving the UI over HTTP without a browser: log in through the login form, read a page's
CSRF token, post its forms."""

from __future__ import annotations

import re

import requests

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def log_in(base: str, email: str, password: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/ui/login", timeout=10)
    assert page.status_code == 200
    answer = http.post(
        f"{base}/ui/login",
        data={"email": email, "password": password, "csrf_token": csrf(page.text), "next": ""},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    return http
