"""``/web/sharing``: share address books, calendars and task lists.

The viewer sees their own collections with whom each is shared, shares one
with a user (by name) or a group (and so its subgroups), changes a share's
level or removes it, and sees what others shared with them.  Only owners
share (:func:`kmdav.dav.sharing.require_own_collection`); every change goes
through :mod:`kmdav.dav.sharing`, which audits it, and reaches devices at
their next request.

The same page holds the viewer's subscription links (ICS feeds,
:mod:`kmdav.dav.feeds`) for Outlook, Google and other programs without
CalDAV: make one for an own or shared-in calendar (calendar seat needed),
see its URL once in the answer, see when each was last fetched, revoke
one.  Revoking needs no seat, so someone whose seat was taken can still
close links that would answer again if it came back.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import groups
from kmdav.dav import feeds, sharing
from kmdav.dav.access import CALENDAR_SEAT
from kmdav.errors import NotFoundError, ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect

PATH = PREFIX + "/sharing"
FEEDS_PATH = PATH + "/feeds"
#: Keys of the fixed messages after a change (the template words them).
NOTICES = ("shared", "changed", "removed", "feed_revoked")


def _path_id(call: Call, name: str) -> int | None:
    value: int | None = call.request.path_params.get(name)
    return value


def _feed_url(call: Call, created: feeds.NewFeed) -> str:
    """The link as the subscriber's program will use it (scheme and host as
    the browser sees them, like the DAV address on the dashboard)."""
    return f"{call.request.url.scheme}://{call.request.url.netloc}{created.path}"


def _sharing_page(
    call: Call,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
    created: feeds.NewFeed | None = None,
) -> Response:
    errors = errors or {}
    notice = call.request.query_params.get("notice", "")
    failed_collection = _path_id(call, "collection_id") if errors else None
    feed_failed = bool(errors) and call.request.url.path == FEEDS_PATH
    return call.render(
        "sharing.html",
        status,
        own=sharing.own_collections(call.session, call.viewer.id),
        shared_with_me=sharing.shared_with(call.session, call.viewer.id),
        groups=groups.flatten(groups.group_tree(call.session)),
        errors=errors,
        # Which form failed, so its message shows next to its fields.
        failed_collection=failed_collection,
        failed_share=_path_id(call, "share_id") if errors else None,
        values={
            "user": call.field("user") if failed_collection else "",
            "group": call.field("group") if failed_collection else "",
            "access": call.field("access") if failed_collection else "",
        },
        notice_key=notice if notice in NOTICES and not errors else "",
        feed_calendars=(
            feeds.readable_calendars(call.session, call.viewer.id)
            if CALENDAR_SEAT in call.viewer.modules
            else []
        ),
        feeds=feeds.list_feeds(call.session, call.viewer.id),
        feed_failed=feed_failed,
        feed_values={
            "calendar": call.field("calendar") if feed_failed else "",
            "name": call.field("name") if feed_failed else "",
        },
        created_feed=created,
        created_feed_url=_feed_url(call, created) if created is not None else "",
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _sharing_page(call, errors=errors, status=400)


@page()
def sharing_page(call: Call) -> Response:
    return _sharing_page(call)


def _chosen_group(call: Call) -> str | None:
    """The name of the group picked in the form's list, if any."""
    value = call.field("group")
    if not value:
        return None
    try:
        return groups.require_group_by_id(call.session, int(value)).name
    except (ValueError, NotFoundError):
        raise ValidationError("choose a group from the list", field="group") from None


@action(invalid=_invalid)
def share(call: Call) -> Response:
    collection_id = _path_id(call, "collection_id")
    assert collection_id is not None  # the route has it
    collection = sharing.require_own_collection(call.session, collection_id, call.viewer.id)
    username = call.field("user") or None
    group = _chosen_group(call)
    if username is None and group is None:
        raise ValidationError("enter a user name or choose a group", field="user")
    if username is not None and group is not None:
        raise ValidationError("share with a user or with a group, not both at once", field="user")
    sharing.share_collection(
        call.session,
        collection.path,
        user=username,
        group=group,
        level=call.field("access"),
        actor=call.actor,
    )
    return redirect(PATH + "?notice=shared")


@action(invalid=_invalid)
def change_access(call: Call) -> Response:
    share_id = _path_id(call, "share_id")
    assert share_id is not None  # the route has it
    sharing.change_share_access(
        call.session, share_id, call.field("access"), owner_id=call.viewer.id, actor=call.actor
    )
    return redirect(PATH + "?notice=changed")


@action(invalid=_invalid)
def remove(call: Call) -> Response:
    share_id = _path_id(call, "share_id")
    assert share_id is not None  # the route has it
    sharing.remove_share(call.session, share_id, owner_id=call.viewer.id, actor=call.actor)
    return redirect(PATH + "?notice=removed")


def _chosen_calendar(call: Call) -> int | None:
    try:
        return int(call.field("calendar"))
    except ValueError:
        return None


@action(module="calendar", invalid=_invalid)
def create_feed(call: Call) -> Response:
    created = feeds.create_feed(
        call.session, call.viewer.id, _chosen_calendar(call), call.field("name"), actor=call.actor
    )
    # The URL holds the secret: it is shown in this answer only, never redirected to.
    return _sharing_page(call, created=created)


@action()
def revoke_feed(call: Call) -> Response:
    feed_id = _path_id(call, "feed_id")
    assert feed_id is not None  # the route has it
    feeds.revoke_feed(call.session, feed_id, user_id=call.viewer.id, actor=call.actor)
    return redirect(PATH + "?notice=feed_revoked#feeds")


routes = [
    Route("/sharing", sharing_page, methods=["GET"], name="web_sharing"),
    Route("/sharing/{collection_id:int}/shares", share, methods=["POST"]),
    Route("/sharing/shares/{share_id:int}/access", change_access, methods=["POST"]),
    Route("/sharing/shares/{share_id:int}/remove", remove, methods=["POST"]),
    # GET: where the language switcher returns to after a link was made.
    Route("/sharing/feeds", sharing_page, methods=["GET"]),
    Route("/sharing/feeds", create_feed, methods=["POST"]),
    Route("/sharing/feeds/{feed_id:int}/revoke", revoke_feed, methods=["POST"]),
]
