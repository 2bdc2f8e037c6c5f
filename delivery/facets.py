"""The counts above the status list, as links that narrow the list to each status and reason."""

from django.http import QueryDict

from delivery.models import MessageStatus, Reason
from smsconsole.views import CURSOR_PARAM


def status_facets(rows: list[dict], *, query: QueryDict, cleaned: dict) -> list[dict]:
    """One entry per status with messages (in lifecycle order), each with its reasons, largest first.

    `rows` come from message_status_counts; `query` is the list's query string, which every link
    keeps except the cursor, status and reason; `cleaned` is the filter's cleaned data."""
    query = query.copy()
    for key in (CURSOR_PARAM, "status", "reason"):
        query.pop(key, None)
    by_status: dict[str, list[dict]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    facets = []
    for status in MessageStatus:
        status_rows = by_status.get(status.value)
        if not status_rows:
            continue
        status_query = query.copy()
        status_query["status"] = status.value
        reasons = []
        for row in sorted(status_rows, key=lambda r: -r["count"]):
            if not row["reason"]:
                continue
            reason_query = status_query.copy()
            reason_query["reason"] = row["reason"]
            reasons.append(
                {
                    "label": Reason(row["reason"]).label,
                    "count": row["count"],
                    "count_label": f"{row['count']:,}",
                    "url": f"?{reason_query.urlencode()}",
                    "is_active": cleaned.get("status") in ("", status.value)
                    and cleaned.get("reason") == row["reason"],
                }
            )
        count = sum(row["count"] for row in status_rows)
        facets.append(
            {
                "status": status.value,
                "label": status.label,
                "count": count,
                "count_label": f"{count:,}",
                "url": f"?{status_query.urlencode()}",
                "is_active": cleaned.get("status") == status.value and not cleaned.get("reason"),
                "reasons": reasons,
            }
        )
    return facets
