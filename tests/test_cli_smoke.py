import json


def test_topup_and_balance(cli, tenant):
    r = cli("topup", "100.50", "--note", "first")
    assert r.exit_code == 0, r.output
    r = cli("balance", "--json")
    doc = json.loads(r.stdout)
    assert doc["balance"] == "100.5000"
    assert doc["lots"][0]["remaining"] == "100.5000"


def test_negative_topup_one_line_error(cli, tenant):
    r = cli("topup", "--", "-5")
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert "negative" in r.stderr
    assert "Traceback" not in r.output
