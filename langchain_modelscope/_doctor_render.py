"""The doctor's report for people: plain text for a terminal, Markdown for an issue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from langchain_modelscope._doctor import DoctorReport, FactReport

_LABELS: Final = {
    "as_expected": "ok",
    "different": "DIFFERENT",
    "not_checked": "not checked",
    "info": "info",
}


def verdict(report: DoctorReport) -> str:
    """One line: what the report says, and the exit code it gives."""
    drifted = report.drifted
    if drifted:
        names = ", ".join(fact.id for fact in drifted)
        return f"{len(drifted)} fact(s) differ from what the package expects: {names} (exit 1)"
    if report.could_not_run:
        return f"could not run: {report.could_not_run} (exit 2)"
    return "nothing drifted from what the package expects (exit 0)"


def _spent(report: DoctorReport) -> str:
    ran = [check for check in report.checks if check.skipped is None]
    if not ran:
        return f"no paid check ran (--spend {report.spend:g})"
    cost = "unknown" if report.points_spent is None else f"{report.points_spent:g}"
    return f"{len(ran)} paid check(s) ran within --spend {report.spend:g}; points spent: {cost}"


def _seen(fact: FactReport) -> str:
    return fact.observed if fact.observed is not None else (fact.note or "")


def as_text(report: DoctorReport) -> str:
    width = max(len(fact.id) for fact in report.facts)
    lines = [
        f"langchain-modelscope {report.version} doctor, {report.base_url}, "
        f"{report.checked_at.isoformat(timespec='seconds')}",
        verdict(report),
        "",
    ]
    for fact in report.facts:
        label = _LABELS[fact.status]
        lines.append(f"{label:<11}  {fact.id:<{width}}  {_seen(fact)}")
        if fact.status == "different":
            pad = " " * (13 + width + 2)
            lines.append(f"{pad}expected: {fact.expected} ({fact.section})")
            if fact.note and fact.observed is not None:
                lines.append(f"{pad}note: {fact.note}")
        elif fact.status == "info" and fact.note and fact.observed is not None:
            lines.append(f"{' ' * (13 + width + 2)}{fact.note}")
    lines += ["", _spent(report)]
    for check in report.checks:
        state = "ran" if check.skipped is None else f"skipped: {check.skipped}"
        model = check.model or "-"
        lines.append(f"  {check.name:<18} {model:<36} {state}")
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def as_markdown(report: DoctorReport) -> str:
    lines = [
        "### `langchain-modelscope doctor`",
        "",
        f"- version: {report.version}",
        f"- base URL: `{report.base_url}`",
        f"- checked at: {report.checked_at.isoformat(timespec='seconds')}",
        f"- verdict: {verdict(report)}",
        f"- {_spent(report)}",
        "",
        "| fact | status | expected (facts sheet) | seen |",
        "|---|---|---|---|",
    ]
    for fact in report.facts:
        seen = _seen(fact)
        if fact.note and fact.observed is not None:
            seen = f"{fact.observed} ({fact.note})"
        lines.append(
            f"| `{fact.id}` | {_LABELS[fact.status]} | {_cell(fact.expected)} "
            f"({fact.section}) | {_cell(seen)} |"
        )
    lines += ["", "| paid check | model | ran |", "|---|---|---|"]
    for check in report.checks:
        ran = "yes" if check.skipped is None else f"no: {check.skipped}"
        lines.append(f"| {check.name} | {_cell(check.model or '-')} | {_cell(ran)} |")
    return "\n".join(lines) + "\n"
