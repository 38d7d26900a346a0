"""The training network as a dense, discrete-time numpy simulation (no Brian2).

This is the way the papers' authors wrote their models (MATLAB/numpy loops over time steps,
weight matrices as arrays), written here for two reasons: as the "dense numpy" contender of
the speed benchmark (``sbp-brian bench --ways``), and as an implementation independent of
Brian2's code generation that the tests compare with the Brian2 network on identical input
spikes.  It follows :mod:`sbp_brian.network` step by step, in Brian2's order within a time
step:

1. (at t = kT) the sample-boundary step: weight updates (:func:`sbp_brian.train.boundary_weights`)
   and resets;
2. state updates: STP state and traces of the inputs decay exactly (Eq. 4); hidden and output
   neurons (conductance LIF, Eq. 5) and their traces advance by the explicit midpoint rule
   (Brian2's "rk2", :data:`sbp_brian.equations.CONDUCTANCE_METHOD`), the membrane clamped
   while refractory;
3. thresholds: Bernoulli input spikes (``rand() < rate*dt``, Eq. 2), ``v > V_th`` outside
   the refractory period, teacher events;
4. synaptic effects of this step's spikes: conductance jumps with the STP efficacy
   ``(u + U (1 - u)) x``, STDP accumulation from the traces before this step's resets;
5. resets (membranes, traces, STP jumps).

The weight matrices are ``(n_input, n_hidden)`` and ``(n_hidden, n_output)``; the work per
step is event-driven over the rows of the inputs and hidden neurons that spiked.
"""
from __future__ import annotations

import numpy as np

from .network import TrainingConfig, input_signs

__all__ = ["DenseNetwork"]


def _si(quantity) -> float:
    """A quantity's value in SI units, as a float."""
    return float(np.asarray(quantity))


class _Layer:
    """State of a conductance-LIF layer and its parameters as SI floats."""

    def __init__(self, params: dict, n: int, dt: float, trace_taus: dict,
                 readout: bool = False):
        p = {k: _si(v) for k, v in params.items()}
        self.p, self.n, self.dt = p, n, dt
        self.ref_steps = int(round(p["t_ref"] / dt))
        self.trace_taus = trace_taus
        self.readout = readout  # integrate the readout's mean depolarisation (outputs only)
        self.reset()

    def reset(self) -> None:
        self.v = np.full(self.n, self.p["V_L"])
        self.gE = np.zeros(self.n)
        self.gI = np.zeros(self.n)
        self.last = np.full(self.n, -10**9)
        self.depolarisation = np.zeros(self.n)  # integral of v - V_L over the sample
        self.traces = {name: np.zeros(self.n) for name in self.trace_taus}
        self.count = np.zeros(self.n)

    def _dv(self, v, gE, gI):
        p = self.p
        return (-(v - p["V_L"]) - gE / p["g_L"] * (v - p["V_E"])
                - gI / p["g_L"] * (v - p["V_I"])) / p["tau_m"]

    def step(self, step: int) -> np.ndarray:
        """Midpoint (rk2) update, then the threshold; returns the indices that spiked."""
        p, dt = self.p, self.dt
        free = (step - self.last) >= self.ref_steps
        k_v = np.where(free, self._dv(self.v, self.gE, self.gI), 0.0)
        gE_mid = self.gE - 0.5 * dt * self.gE / p["tau_E"]
        gI_mid = self.gI - 0.5 * dt * self.gI / p["tau_I"]
        v_mid = self.v + 0.5 * dt * k_v
        v_new = self.v + dt * self._dv(v_mid, gE_mid, gI_mid)
        if self.readout:  # the network's v_mean, integrated by the same rule
            self.depolarisation += dt * (v_mid - p["V_L"])
        self.v = np.where(free, v_new, self.v)
        self.gE = self.gE - dt * gE_mid / p["tau_E"]
        self.gI = self.gI - dt * gI_mid / p["tau_I"]
        for name, tau in self.trace_taus.items():
            a = self.traces[name]
            self.traces[name] = a - dt * (a - 0.5 * dt * a / tau) / tau
        return np.flatnonzero((self.v > p["V_th"]) & free)

    def fire(self, spiked: np.ndarray, step: int) -> None:
        self.v[spiked] = self.p["V_reset"]
        self.last[spiked] = step
        self.count[spiked] += 1


class DenseNetwork:
    """Dense numpy simulation of :class:`sbp_brian.network.SBPNetwork` (fixed-step, per sample).

    ``run`` has the signature of the Brian2 runners in :mod:`sbp_brian.train`, so that the
    benchmark and the tests can swap them.  ``input_spikes`` (optional, tests) replaces the
    Bernoulli draws: an array ``(n_samples, steps, n_input)`` of booleans.
    """

    def __init__(self, config: TrainingConfig, input_spikes=None):
        c = self.config = config
        if c.teacher_mode != "regular":
            raise ValueError("the dense implementation has the regular teacher only")
        if c.batch_size != 1:
            raise ValueError("the dense implementation has the per-sample rule only "
                             "(batch_size = 1)")
        if c.homeostasis is not None:
            raise ValueError("the dense implementation has no homeostatic membrane adjustment "
                             "(the benchmark workload has none)")
        self.dt = dt = _si(c.dt)
        self.steps = c.steps_per_sample
        self.input_spikes = input_spikes
        self.stp = c.stp is not None  # without STP every spike's efficacy is 1
        if self.stp:
            self.U = c.stp["U"]
            self.decay_u = np.exp(-dt / _si(c.stp["tau_f"]))
            self.decay_x = np.exp(-dt / _si(c.stp["tau_d"]))
        self.g_in, self.g_out = _si(c.g_in), _si(c.g_out)
        self.stdp_in = {k: _si(v) for k, v in c.stdp_in.items()}
        self.stdp_out = {k: _si(v) for k, v in c.stdp_out.items()}
        self.max_rate = _si(c.max_rate)
        rate = _si(c.teacher_rate)
        self.teach_steps = max(1, int(round(1 / (rate * dt)))) if rate > 0 else 1
        self.hidden = _Layer(c.hidden, c.n_hidden, dt, {"apost_in": self.stdp_in["tau_minus"],
                                                        "apre_out": self.stdp_out["tau_plus"]})
        self.output = _Layer(c.output, c.n_output, dt, {"apost": self.stdp_out["tau_minus"],
                                                        "ateach": self.stdp_out["tau_minus"]},
                             readout=True)
        self.rng = np.random.default_rng(c.seed)
        self.decay_apre = np.exp(-dt / self.stdp_in["tau_plus"])

    def run(self, x, y_onehot, w_in, w_out, learn: bool, seed: int, rate_scale: float = 1.0,
            w_norm=None, sign_in=None) -> tuple:
        from .train import ChunkResult, boundary_weights, input_norms
        c = self.config
        self.rng = np.random.default_rng(seed)
        w_norm = input_norms(c, w_in) if w_norm is None else w_norm
        eta_in = c.eta_in * rate_scale if learn else 0.0
        eta_out = c.eta_out * rate_scale if learn else 0.0
        sign_in = input_signs(w_in) if sign_in is None else np.asarray(sign_in)
        W_in = np.array(w_in, dtype=float).reshape(c.n_input, c.n_hidden)
        W_out = np.array(w_out, dtype=float).reshape(c.n_hidden, c.n_output)
        counts = np.zeros((len(x), c.n_output), dtype=int)
        potentials = np.zeros((len(x), c.n_output))
        hidden_spikes = 0.0
        for k in range(len(x)):
            target = y_onehot[k] if learn else np.zeros(c.n_output)
            ltp, ltd, dw_out, pre_count = self._sample(k, np.asarray(x[k]), target, W_in, W_out)
            hidden_spikes += self.hidden.count.sum()
            counts[k] = self.output.count
            potentials[k] = self.output.depolarisation / (self.steps * self.dt) * 1e3  # mV
            new_in, new_out = boundary_weights(c, W_in.ravel(), sign_in, ltp.ravel(), ltd.ravel(),
                                               W_out.ravel(), dw_out.ravel(), pre_count,
                                               eta_in, eta_out, w_norm)
            W_in = new_in.reshape(W_in.shape)
            W_out = new_out.reshape(W_out.shape)
        return W_in.ravel(), W_out.ravel(), ChunkResult(counts, hidden_spikes, None, potentials)

    def _sample(self, k: int, intensity, target, W_in, W_out):
        """One sample from the boundary reset to the end; returns the accumulated changes."""
        c, dt = self.config, self.dt
        n_in = c.n_input
        hid, out = self.hidden, self.output
        hid.reset()
        out.reset()
        u, x = np.zeros(n_in), np.ones(n_in)
        apre = np.zeros(n_in)
        pre_count = np.zeros(n_in)
        ltp = np.zeros_like(W_in)
        ltd = np.zeros_like(W_in)
        dw_out = np.zeros_like(W_out)
        W_in_e, W_in_i = np.where(W_in > 0, W_in, 0), np.where(W_in < 0, W_in, 0)
        W_out_e, W_out_i = np.where(W_out > 0, W_out, 0), np.where(W_out < 0, W_out, 0)
        q = intensity * self.max_rate * dt
        A = self.stdp_in
        Ao = self.stdp_out
        teaching = target > 0.5
        for s in range(self.steps):
            step = k * self.steps + s
            # 2: state updates
            if self.stp:
                u *= self.decay_u
                x = 1 - (1 - x) * self.decay_x
            apre *= self.decay_apre
            spiked_h = hid.step(step)
            spiked_o = out.step(step)
            # 3: thresholds
            if self.input_spikes is None:
                spiked_i = np.flatnonzero(self.rng.random(n_in) < q)
            else:
                spiked_i = np.flatnonzero(self.input_spikes[k, s])
            teach = teaching & (step % self.teach_steps == 0)
            # 4: synaptic effects, with the traces before this step's resets
            if spiked_i.size:
                eff = ((u[spiked_i] + self.U * (1 - u[spiked_i])) * x[spiked_i] if self.stp
                       else np.ones(spiked_i.size))
                hid.gE += self.g_in * (eff @ W_in_e[spiked_i])
                hid.gI -= self.g_in * (eff @ W_in_i[spiked_i])
                ltd[spiked_i] -= hid.traces["apost_in"]
            if spiked_h.size:
                out.gE += self.g_out * W_out_e[spiked_h].sum(axis=0)
                out.gI -= self.g_out * W_out_i[spiked_h].sum(axis=0)
                dw_out[spiked_h] += Ao["A_minus"] * (out.traces["apost"] - out.traces["ateach"])
                ltp[:, spiked_h] += apre[:, None]
            if spiked_o.size:
                dw_out[:, spiked_o] -= Ao["A_plus"] * hid.traces["apre_out"][:, None]
            if teach.any():
                dw_out[:, teach] += Ao["A_plus"] * hid.traces["apre_out"][:, None]
            # 5: resets
            if spiked_i.size and self.stp:
                u[spiked_i] += self.U * (1 - u[spiked_i])
                x[spiked_i] -= u[spiked_i] * x[spiked_i]
            if spiked_i.size:
                apre[spiked_i] += A["A_plus"]
                pre_count[spiked_i] += 1
            hid.fire(spiked_h, step)
            hid.traces["apost_in"][spiked_h] += A["A_minus"]
            hid.traces["apre_out"][spiked_h] += 1
            out.fire(spiked_o, step)
            out.traces["apost"][spiked_o] += 1
            out.traces["ateach"][teach] += 1
        return ltp, ltd, dw_out, pre_count

