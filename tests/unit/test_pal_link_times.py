"""The PAL GET answer's createdTime/updatedTime, as the service writes them (seven fractional digits)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.azure import pal

PRODUCTION = {
    "id": "/providers/microsoft.managementpartner/partners/5127255",
    "name": "5127255",
    "etag": 18,
    "properties": {
        "partnerId": "5127255",
        "partnerName": "Test_Test_DhirajTesting",
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "objectId": "ac9a0626-3ff0-46e2-9974-bbfba246f6dc",
        "version": 18,
        "updatedTime": "2018-07-30T21:12:18.350161Z",
        "createdTime": "2018-02-21T20:07:21.1341292Z",
        "state": "Active",
    },
}


def test_times_and_partner_name_are_read_from_a_production_answer():
    link = pal.parse_link(PRODUCTION)
    assert link.partner_name == "Test_Test_DhirajTesting"
    assert link.created_time == datetime(2018, 2, 21, 20, 7, 21, 134129, tzinfo=UTC)
    assert link.updated_time == datetime(2018, 7, 30, 21, 12, 18, 350161, tzinfo=UTC)


def test_missing_or_unreadable_times_are_unknown_not_an_error():
    body = {"properties": {**PRODUCTION["properties"], "createdTime": "yesterday"}}
    del body["properties"]["updatedTime"]
    link = pal.parse_link(body)
    assert link.created_time is None
    assert link.updated_time is None
