"""Browser pages under a strict Content-Security-Policy."""

from __future__ import annotations

#: What a site with a strict policy sends (no inline script or style, no eval, no blob: workers).
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def strict_csp_page(open_page, path: str, user):
    """`path` loaded with STRICT_CSP on every response; the policy's refusals are collected."""
    page = open_page(path, user)
    console: list[str] = []

    def on_console(message) -> None:
        # The test site has no favicon; every other error (a refused script or style) counts.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            console.append(f"{message.text} {message.location}")

    page.on("console", on_console)

    def with_policy(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route("**/*", with_policy)
    page.reload()
    page.console_errors = console
    return page
