//! SLO figures from merged buckets: attainment, error budget, burn rates, and the
//! multi-window, multi-burn-rate alert of the SRE workbook.
