"""SQLite persistence (--state FILE): a demo survives restarts."""

from __future__ import annotations

from sandbox.hubspot import HubSpotSandbox


def test_state_survives_restart(tmp_path):
    path = tmp_path / "hubspot.sqlite"
    sb = HubSpotSandbox(state_file=path)
    st = sb.state
    st.create_property("contacts", {"name": "ext_id", "label": "ext", "type": "string",
                                    "fieldType": "text", "groupName": "contactinformation",
                                    "hasUniqueValue": True})
    a = st.create_object("contacts", {"email": "a@x.com", "ext_id": "e1"})
    b = st.create_object("contacts", {"email": "b@x.com"})
    co = st.create_object("companies", {"name": "Co", "domain": "co.com"})
    st.assoc_put_default("contacts", a["id"], "companies", co["id"])
    st.merge("contacts", a["id"], b["id"])
    st.create_group("deals", {"name": "g", "label": "G"})
    sb.stop()

    sb2 = HubSpotSandbox(state_file=path)
    st2 = sb2.state
    assert st2.counts()["contacts"] == 1
    assert st2.get_object("contacts", "e1", id_property="ext_id")["id"] == a["id"]
    assert st2.get_object("contacts", "b@x.com", id_property="email")["id"] == a["id"]
    assert st2.get_object("contacts", b["id"])["id"] == a["id"]
    assert st2.assoc_list("companies", co["id"], "contacts")["results"][0]["toObjectId"] == \
        int(a["id"])
    assert st2.get_group("deals", "g")["label"] == "G"
    new = st2.create_object("contacts", {"email": "c@x.com"})
    assert int(new["id"]) > int(co["id"])
    status, body = st2.batch_upsert("companies", {"inputs": [
        {"id": "co.com", "idProperty": "domain", "properties": {"city": "Rome"}}]})
    assert body["results"][0]["id"] == co["id"]
    sb2.reset()
    sb2.stop()

    sb3 = HubSpotSandbox(state_file=path)
    assert sb3.state.counts()["contacts"] == 0
    assert "ext_id" not in {p["name"] for p in sb3.state.list_properties("contacts")["results"]}
    sb3.stop()
