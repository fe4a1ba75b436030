"""Reading what items come from: work plans (text, .txt, .docx) and existing task tables (.xlsx)."""
