"""Helpers shared by the server-rendered pages of every app.

Every destructive or irreversible action follows one pattern (django-htmx-patterns' <dialog>
and HX-Trigger), and every other one-click action ends the same way:

1. Its button links to the action's own URL with ``?next=`` (where to go after success) and
   ``hx-get``s the same URL into ``#dialog-host``.
2. That URL's GET answers ``confirm(request, …)``: a modal <dialog> for htmx, the same as a
   page without JavaScript. Its texts are in ``templates/confirm.html``, once per action.
3. Its POST does the action and answers ``action_done(request, event=…, next_url=…)``: for
   htmx, the ``HX-Trigger`` event that the changed list or table listens to (``hx-trigger=
   "<event> from:body"``); without JavaScript, a redirect to ``next_url``.

A form that stays on its page (add a permission, add a user, a checklist) answers its POST
with ``form_answer``: itself again for htmx, the page without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.access import AppRequest, SignedInRequest

CLOSE_DIALOG = "closeDialog"  # static/js/keyhouse.js closes the open dialog on it


def htmx_partial(request: SignedInRequest) -> bool:
    """An htmx swap of part of the page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def page_or_partial(
    request: AppRequest, template: str, context: dict[str, Any], partials: dict[str, str]
) -> HttpResponse:
    """The whole page, or for htmx the partial of ``template`` that the element it swaps
    names (``partials`` maps element ids to partial names)."""
    if htmx_partial(request) and request.htmx.target in partials:
        return render(request, f"{template}#{partials[request.htmx.target]}", context)
    return render(request, template, context)


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The ``next`` parameter if it points back into this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def next_url_leaving(request: HttpRequest, own_page: str, fallback: str) -> tuple[str, str]:
    """Where to go after deleting the object whose page is ``own_page``, and where Cancel
    leads: the ``next`` parameter, unless it is that page (or under it), which is going away."""
    came_from = next_url = safe_next_url(request, fallback)
    next_path = next_url.split("?", 1)[0]
    if next_path == own_page or next_path.startswith(f"{own_page}/"):
        next_url = fallback
    return next_url, came_from


def confirm(
    request: SignedInRequest,
    *,
    next_url: str,
    cancel_url: str | None = None,
    danger: bool = False,
    error: str = "",
    **context: Any,
) -> HttpResponse:
    """Ask before the action at this URL (its GET answers this; its POST acts).

    The title (also the button's label) and the question are the partials
    ``<url name>-title`` and ``<url name>-question`` of ``templates/confirm.html``, rendered
    with ``context``. The dialog posts with htmx while success leaves the user on the page
    behind it, which then refreshes on the action's event; when ``next_url`` is another page
    (the object's own page is gone, say) it posts plainly and the browser follows the redirect.

    A POST the service refused answers this again with its ``error`` shown: a new dialog in
    place of the old one for htmx (which posted with ``hx-swap="none"``), else the page.
    """
    assert request.resolver_match is not None
    texts = f"confirm.html#{request.resolver_match.url_name}"
    in_dialog = htmx_partial(request)
    here = (request.htmx.current_url_abs_path or "") if in_dialog else ""
    context = {
        "nav_active": "serviceaccounts",
        **context,
        "title_template": f"{texts}-title",
        "question_template": f"{texts}-question",
        "action_url": request.path,
        "next": next_url,
        "cancel": cancel_url or next_url,
        "danger": danger,
        "error": error,
        "in_dialog": in_dialog,
        "stays": in_dialog and urlsplit(here).path == urlsplit(next_url).path,
    }
    response = render(request, "confirm.html#dialog" if in_dialog else "confirm.html", context)
    if error and in_dialog:
        reswap(response, "innerHTML")
        retarget(response, "#dialog-host")
    return response


def action_done(request: AppRequest, *, event: str, next_url: str) -> HttpResponse:
    """How an action answers its POST once it is done (or refused with a message).

    htmx gets ``event`` (HX-Trigger) so whatever shows the changed data fetches itself again,
    then ``closeDialog``, and the messages the action left swapped into ``#messages`` out of
    band. Without JavaScript it is a redirect to ``next_url``, where the messages show.
    """
    if not htmx_partial(request):
        return redirect(next_url)
    response = render(request, "_messages.html", {"oob": True})
    trigger_client_event(response, event)
    return trigger_client_event(response, CLOSE_DIALOG, after="settle")


def form_answer(
    request: AppRequest,
    *,
    done: str,
    event: str,
    partial: str,
    context: dict[str, Any],
    page: Callable[[], HttpResponse],
    next_url: str,
) -> HttpResponse:
    """How a form that stays on its page answers its POST; ``done`` says what it did ("" when
    the form has errors to show).

    htmx gets ``partial`` again (with ``done`` in its context to say so, or with its errors),
    and ``event`` once done, for whatever else shows the changed data. Without JavaScript,
    done is a redirect to ``next_url`` with ``done`` as a message, and errors are the whole
    ``page()`` (only then rendered).
    """
    if htmx_partial(request):
        response = render(request, partial, {**context, "done": done})
        return trigger_client_event(response, event) if done else response
    if not done:
        return page()
    messages.success(request, done)
    return redirect(next_url)
