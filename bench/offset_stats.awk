# SPDX-License-Identifier: GPL-2.0-or-later
# Statistics over a bench's offset samples, shared by bench_ntp.sh and
# bench_fleet.sh (awk -f bench/offset_stats.awk -f THEIRS): t[k] is sample
# k's time, v[k, c] its column c (ns, or "nan"), n the number of samples.
# Statistics use the second half (the settled part); within() is the time
# from which a column stayed within lim to the end.
function abs(x) { return x < 0 ? -x : x }
function within(c, lim,   k) {
	for (k = n; k >= 1; k--)
		if (v[k, c] == "nan" || abs(v[k, c]) > lim)
			break
	# A stretch shorter than 10 samples is not "staying".
	return n - k < 10 ? "inf" : (k == 0 ? t[1] : t[k + 1])
}
function rms(c,   k, s, m) {
	for (k = int(n / 2) + 1; k <= n; k++)
		if (v[k, c] != "nan") {
			s += v[k, c] * v[k, c]
			m++
		}
	return m ? sqrt(s / m) : "nan"
}
function mean(c,   k, s, m) {
	for (k = int(n / 2) + 1; k <= n; k++)
		if (v[k, c] != "nan") {
			s += v[k, c]
			m++
		}
	return m ? s / m : "nan"
}
function ratio(a, b) {
	if (a == "inf" || b == "inf" || a == "nan" || b == "nan" || b == 0)
		return "nan"
	return sprintf("%.2f", a / b)
}
