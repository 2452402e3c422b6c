"""Projects: one per country coalition or programme; everything else belongs to one."""
