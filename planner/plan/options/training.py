"""Options of a centralised training job: every device group or pool the dataset may reach that
fits the model in memory and finishes (dataset transfer + epochs + deployment) by its deadline."""
from __future__ import annotations

from planner import catalog
from planner.errors import PlannerError
from planner.model.accounting import MonthlyBill, Usage, bill
from planner.model.carbon import cleanest_start
from planner.model.system import System, site_hourly_gco2e_per_kwh
from planner.model.workloads import deploy_bytes, training_samples
from planner.model.workloads import training_step
from planner.plan.options.common import Option, cost_estimate, precisions, privacy_violation, send, transfer_ms
from planner.plan.violations import Violation


def deploy_sites(system: System, w) -> list[str]:
    """Where the trained model is pushed: the source of every workload it deploys to (where
    those serve, in the plans this planner makes for them unless they move to the cloud)."""
    sc = system.scenario
    return sorted({sc.workloads[t].source for t in w.deploy_to if t in sc.workloads})


def training_options(system: System, name: str) -> list[Option]:
    sc = system.scenario
    w = sc.workloads[name]
    samples = training_samples(w)
    every_s, deadline_s = w.every_h * 3600, w.deadline_h * 3600
    runs_per_s = 1 / every_s
    model_bytes = deploy_bytes(w)
    options = []
    for site, allowed in system.candidate_sites(name):
        up = system.route(w.source, site)
        targets = [system.route(site, dst) for dst in deploy_sites(system, w) if system.connected(site, dst)]
        for r in system.compute_at(site):
            hw = catalog.hardware(r.hardware)
            for prec in precisions(w, r.hardware):
                o = Option(name, site, r.hardware, prec, "training", mem_limit_gb=hw.mem_gb, model=w.model)
                if not allowed:
                    o.rule_out(privacy_violation(system, name, site))
                try:
                    e = cost_estimate(sc, w.model, r.hardware, prec, w.batch, training=training_step(w))
                except PlannerError as err:
                    o.rule_out(Violation("estimate", f"no estimate: {err}"))
                    options.append(o)
                    continue
                o.memory_gb, o.source = e.memory_gb, e.source
                compute_s = w.epochs * samples / w.batch * e.latency_ms / 1000
                move_s = transfer_ms(system, up, w.dataset_gb * 1e9, rho=0.0) / 1000
                deploy_s = max((transfer_ms(system, t, model_bytes, rho=0.0) / 1000 for t in targets), default=0.0)
                start_s = r.cold_start_s if r.kind == "pool" else 0.0  # a job launches its own instance
                job_s = start_s + compute_s + move_s + deploy_s
                o.compute_ms, o.network_ms = compute_s * 1000, (move_s + deploy_s) * 1000
                if not e.fits:
                    o.rule_out(Violation("memory", f"needs {e.memory_gb:.1f} GB to train, {r.hardware} has {hw.mem_gb:g} GB",
                                         r.id, e.memory_gb, hw.mem_gb))
                elif job_s > deadline_s:
                    o.rule_out(Violation("deadline", f"takes {job_s / 3600:.1f} h, deadline {w.deadline_h:g} h",
                                         r.id, job_s / 3600, w.deadline_h))
                duty = compute_s * runs_per_s
                if r.kind == "device":
                    o.loads[r.id] = duty
                    run_bill = r.month_bill(0.0, duty)
                else:  # its own instance, billed from launch (cold start) to the end of the work
                    run_bill = bill(r.tariff, Usage(server_s=start_s + compute_s, busy_s=compute_s, span_s=every_s))
                run_bill, start_hour = _in_cleanest_hours(w, sc.sites[site], run_bill, start_s + compute_s, move_s,
                                                          deadline_s - job_s)
                o.bill += run_bill
                send(system, o, up, runs_per_s, w.dataset_gb * 1e9)
                for t in targets:
                    send(system, o, t, runs_per_s, model_bytes)
                o.p99_alone_ms = job_s * 1000
                o.detail = {"job_h": job_s / 3600, "compute_h": compute_s / 3600, "transfer_h": move_s / 3600,
                            "deploy_s": deploy_s, "step_ms": e.latency_ms}
                if start_hour is not None:
                    o.detail["start_hour"] = start_hour
                options.append(o)
    return options


def _in_cleanest_hours(w, site, run_bill: MonthlyBill, run_s: float, move_s: float,
                       slack_s: float) -> tuple[MonthlyBill, float | None]:
    """The run's compute bill with its emissions at the hours it runs, and its start hour (UTC):
    a job with a `window_h` on a site whose grid gives an hourly profile starts, after its dataset
    arrives, in the cleanest hours the window and its deadline allow (model/carbon.py); otherwise
    it emits at the yearly figure and has no start hour."""
    hourly = site_hourly_gco2e_per_kwh(site)
    if w.window_h is None or hourly is None:
        return run_bill, None
    win = cleanest_start(hourly, w.start_hour + move_s / 3600, w.window_h, run_s / 3600, slack_s / 3600)
    return run_bill._replace(kgco2e=run_bill.energy_kwh * win.gco2e_per_kwh / 1000), win.start_hour
