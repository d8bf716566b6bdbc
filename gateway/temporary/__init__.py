"""Temporary import/export goods (暂时进出境货物管理系统, seed 002): a business system of the
gateway's core (`system.SYSTEM`). docs/temporary.md says what was decided where the manual is
silent; docs/temporary-messages.md documents the TMP messages."""
