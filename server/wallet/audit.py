"""The ledger audit: every balance equals the sum of its transfers, and the total of all
non-system balances equals tokens minted minus tokens burned.

Minted = everything that ever left the system (issuer) account; burned = everything that
ever went into it (shop purchases). The issuer's own balance is therefore -(minted - burned).
The check reads without a snapshot: run it while the ledger is quiet for an exact answer
(a transfer committing mid-read can show up as a transient mismatch).
"""

from __future__ import annotations

from typing import Any

from server.wallet.documents import Account, Transfer
from server.wallet.schemas import AuditMismatch, AuditReport
from server.wallet.views import owner_view


async def _sums(field: str) -> dict[Any, int]:
    cursor = await Transfer.get_pymongo_collection().aggregate(
        [{"$group": {"_id": f"${field}", "total": {"$sum": "$amount"}}}]
    )
    return {row["_id"]: int(row["total"]) async for row in cursor}


async def run_audit() -> AuditReport:
    credits = await _sums("to_account")
    debits = await _sums("from_account")
    accounts = 0
    total = 0
    minted = 0
    burned = 0
    mismatches: list[AuditMismatch] = []
    negative: list[str] = []
    projection = {"owner_type": 1, "owner_id": 1, "balance": 1}
    async for doc in Account.get_pymongo_collection().find({}, projection):
        accounts += 1
        expected = credits.get(doc["_id"], 0) - debits.get(doc["_id"], 0)
        balance = int(doc["balance"])
        if balance != expected:
            mismatches.append(
                AuditMismatch(
                    account_id=str(doc["_id"]),
                    owner=owner_view(doc["owner_type"], doc["owner_id"]),
                    balance=balance,
                    expected=expected,
                )
            )
        if doc["owner_type"] == "system":
            minted += debits.get(doc["_id"], 0)
            burned += credits.get(doc["_id"], 0)
            continue
        total += balance
        if balance < 0:
            negative.append(str(doc["_id"]))
    ok = not mismatches and not negative and total == minted - burned
    return AuditReport(
        ok=ok,
        accounts=accounts,
        total_balance=total,
        minted=minted,
        burned=burned,
        mismatches=mismatches,
        negative_balances=negative,
    )
