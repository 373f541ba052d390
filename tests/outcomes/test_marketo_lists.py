"""The Marketo emulator's list membership endpoints, through the connector over real HTTP:
per-record statuses and reasons as the vendor documents them."""

from __future__ import annotations

from tests.connectors.marketo_fixtures import api_client, make_connector, running


def test_list_membership_statuses_and_reasons() -> None:
    with running() as (emulator, server):
        connector = make_connector(emulator, server)
        try:
            added = connector.add_to_list(1001, [1, 2, 999999])
            assert [(r.status, r.code) for r in added] == [("added", None), ("added", None),
                                                            ("skipped", "1004")]
            assert [r.status for r in connector.add_to_list(1001, [1])] == ["added"]
            assert emulator.lists.members(1001) == [1, 2]
            assert [r.status for r in connector.is_member(1001, [1, 3])] == \
                ["memberof", "notmemberof"]
            removed = connector.remove_from_list(1001, [2, 3])
            assert [(r.status, r.code, r.ok) for r in removed] == [
                ("removed", None, True), ("skipped", "1015", True)]
        finally:
            connector.close()
        with api_client(emulator, server) as http:
            body = http.get("/rest/v1/lists.json").json()
            assert [x["name"] for x in body["result"]] == ["リサイクル・ナーチャリング"]
            members = http.get("/rest/v1/lists/1001/leads.json").json()["result"]
            assert [m["id"] for m in members] == [1]
            unknown = http.post("/rest/v1/lists/77/leads.json", json={"input": [{"id": 1}]})
            assert unknown.json()["errors"][0]["code"] == "1013"
            many = http.post("/rest/v1/lists/1001/leads.json",
                             json={"input": [{"id": i} for i in range(301)]})
            assert many.json()["errors"][0]["code"] == "1003"
