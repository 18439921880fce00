"""SPICE vs behavioral model, six panels in one PNG (matplotlib, Agg: no display needed)."""
from __future__ import annotations

from pathlib import Path

from .report import SpiceReport

__all__ = ["spice_plot"]


def spice_plot(report: SpiceReport, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 4, figsize=(20, 8.5))
    t, g, tp, mc, nz, k = report.tanh, report.gm_bias, report.temperature, report.mismatch, report.noise, \
        next(iter(report.keep.values()))
    v = t["v_V"] * 1e3
    a = ax[0, 0]
    a.plot(v, -t["i_A"] * 1e9, "k.", ms=3, label="ngspice")
    a.plot(v, -t["fit_A"] * 1e9, "C0", label=f"tanh, V_L fit {t['v_l_fit_V'] * 1e3:.1f} mV")
    a.plot(v, -t["model_A"] * 1e9, "C1--", label=f"model, 2nU_T = {t['v_l_model_V'] * 1e3:.1f} mV")
    a2 = a.twinx()
    a2.plot(v, (t["i_A"] - t["fit_A"]) / t["i_bias_A"] * 100, "C3:", label="fit error")
    a2.set_ylabel("fit error (% of I_b)", color="C3")
    a.set(xlabel="differential input (mV)", ylabel="output current (nA)",
          title=f"DC transfer: max tanh error {t['tanh_error'] * 100:.2f} % FS")
    a.legend(fontsize=8, loc="upper left")
    a = ax[0, 1]
    a.semilogx(g["i_bias_A"] * 1e9, g["ratio"], "ko-")
    a.axhline(1.0, color="C1", ls="--", label="model: g_m = I_b / (2nU_T)")
    a.set(xlabel="I_bias (nA)", ylabel="g_m SPICE / g_m model", title="g_m vs bias (weak → moderate inversion)")
    a.legend(fontsize=8)
    a = ax[0, 2]
    a.semilogy(tp["temps_C"], tp["ratio"], "ko", label="ngspice (gate fixed at T_p)")
    a.semilogy(tp["temps_C"], tp["model_ratio"], "C1--", label="model, config α, n")
    a.semilogy(tp["temps_C"], tp["fitted_ratio"], "C0", label=f"model, α fit {tp['tempco_fit_mV_per_K']:.3f} mV/K")
    a.set(xlabel="temperature (°C)", ylabel="g_m(T) / g_m(T_p)",
          title=f"temperature: drift error {tp['temperature_error_fit'] * 100:.1f} % (fit), "
                f"{tp['temperature_error'] * 100:.0f} % (config)")
    a.legend(fontsize=8)
    a = ax[1, 0]
    a.scatter(mc["offset_V"] * 1e3, mc["gain"] * 100, s=8, c="k")
    a.set(xlabel="offset (mV)", ylabel="gain error (%)",
          title=f"Monte Carlo, {mc['n']} OTAs: σ {mc['gain_sigma'] * 100:.2f} %, {mc['offset_sigma_mV']:.2f} mV\n"
                f"(config {mc['config_gain_sigma'] * 100:.1f} %, {mc['config_offset_mV']:.1f} mV; "
                f"correlation {mc['gain_offset_corr']:.2f})")
    a = ax[1, 1]
    a.loglog(nz["freq_Hz"], nz["s_i_A2_per_Hz"], "k", label="ngspice output noise")
    shot = 2 * 1.602176634e-19 * t["i_bias_A"]
    a.axhline(shot * nz["config_noise_factor"], color="C1", ls="--", label="model 2qγI (config γ)")
    a.set(xlabel="frequency (Hz)", ylabel="S_I (A²/Hz)",
          title=f".noise: γ = {nz['gamma_white']:.2f} white, {nz['gamma_in_band']:.2f} over the token rate")
    a.legend(fontsize=8)
    a = ax[1, 2]
    s_m, s_s = k["s_model"] * 1e3, k["s_spice"] * 1e3
    a.plot(s_m, s_s - s_m, "k.", ms=3)
    a.axvline(k["theta_V"] * 1e3, color="C3", label="θ")
    band = 3 * k["noise_sigma_V"] * 1e3
    a.axvspan(k["theta_V"] * 1e3 - band, k["theta_V"] * 1e3 + band, color="C3", alpha=0.2, label="±3σ noise")
    a.set(xlabel="model score (mV)", ylabel="SPICE - model (mV)",
          title=f"m = {k['m']}, {k['n_tokens']} tokens: keep bits agree\n{k['keep_agreement'] * 100:.2f} % outside "
                f"the ±3σ noise band")
    a.legend(fontsize=8)
    c = report.comparator
    a = ax[0, 3]
    od = c["overdrive_V"] * 1e3
    a.semilogx(od, c["delay_rise_ns"], "ko-", label="rising")
    a.semilogx(od, c["delay_fall_ns"], "ks--", label="falling")
    a.set_xticks(od, [f"{o:g}" for o in od])
    a.minorticks_off()
    a.axhline(c["config_delay_ns"], color="C1", ls="--", label="model delay_ns")
    a.set(xlabel="overdrive past the trip point (mV)", ylabel="delay (ns)",
          title=f"comparator delay (I_c = {c['bias_current_A'] * 1e6:.2f} µA)")
    a.legend(fontsize=8)
    a = ax[1, 3]
    tri = c["triangle"]
    a.plot(tri["v_V"] * 1e3, tri["out_V"], "k", lw=0.8)
    h = c["config_hysteresis_frac"] * abs(c["theta_V"]) * 1e3
    for x in (c["theta_V"] * 1e3 - h / 2, c["theta_V"] * 1e3 + h / 2):
        a.axvline(x, color="C1", ls="--")
    a.set(xlabel="TIA output above v_mid (mV)", ylabel="comparator output (V)",
          title=f"hysteresis: band {c['band_V'] * 1e3:.2f} mV = {c['band_frac'] * 100:.1f} % of θ\n"
                f"(model {c['config_hysteresis_frac'] * 100:.0f} %, dashed)")
    for a in ax.flat:
        a.grid(alpha=0.3)
    fig.suptitle(f"atis spice: behavioral FPAA model vs {report.ngspice}, PTM 180 nm (BSIM3v3)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
