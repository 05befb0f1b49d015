"""Retention: ``manage.py prune_audit`` deletes what is older than KEYHOUSE_AUDIT_RETENTION_DAYS,
in batches, keeps the totals right, and records that it did."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.audit.services import prune_events, record
from accounts.models import AuditEvent, AuditTally
from tests.helpers import SYSTEM

pytestmark = pytest.mark.django_db


def event(org_id: int | None, days_ago: float) -> AuditEvent:
    made = record("team.create", actor=SYSTEM, org=org_id)
    AuditEvent.objects.filter(pk=made.pk).update(time=timezone.now() - timedelta(days=days_ago))
    return made


def tallies() -> dict[int, int]:
    return dict(AuditTally.objects.values_list("scope", "events"))


def test_deletes_old_events_in_batches_and_records_it(org, other_org, settings):
    settings.KEYHOUSE_AUDIT_RETENTION_DAYS = 30
    old = [event(org.pk, 31), event(org.pk, 400), event(None, 45), event(other_org.pk, 31)]
    kept = [event(org.pk, 29), event(other_org.pk, 1), event(None, 0)]
    deleted = prune_events(batch_size=2)
    assert deleted == {org.pk: 2, other_org.pk: 1, 0: 1}
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in kept]).count() == 3
    pruned = {e.org_id: e.details for e in AuditEvent.objects.filter(action="audit.prune")}
    assert {org_id: details["deleted"] for org_id, details in pruned.items()} == {
        org.pk: 2,
        other_org.pk: 1,
        None: 4,
    }
    assert pruned[None]["retentionDays"] == 30
    assert pruned[None]["before"].endswith("Z")
    # The tallies (the listing's totals) still count exactly what is there.
    assert tallies() == {
        org.pk: AuditEvent.objects.filter(org_id=org.pk).count(),
        other_org.pk: AuditEvent.objects.filter(org_id=other_org.pk).count(),
        0: AuditEvent.objects.filter(org_id=None).count(),
    }


def test_the_command_reports_and_a_second_run_finds_nothing(org, settings):
    settings.KEYHOUSE_AUDIT_RETENTION_DAYS = 365
    event(org.pk, 366)
    event(org.pk, 364)
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 audit event(s) older than 365 day(s)."
    out = StringIO()
    call_command("prune_audit", stdout=out)
    assert "Deleted 0 audit event(s)" in out.getvalue()
    runs = AuditEvent.objects.filter(action="audit.prune", org_id=None).order_by("id")
    assert [e.details["deleted"] for e in runs] == [1, 0]
    assert AuditEvent.objects.filter(action="audit.prune", org_id=org.pk).count() == 1
