//! Benchmark of the tariff engine and plan fit, in memory (no file I/O):
//! prices N subscribers x every plan of a catalog, then recommends a plan for each from
//! three months of usage.
//!
//! `cargo run --release -p cvm-offers --example price_bench -- N PLANS.csv`
//! (bench/plans_price_bench.sh makes a 40-plan catalog and runs it.)

use std::path::Path;
use std::time::Instant;

use cvm_domain::Month;
use cvm_offers::plan_fit::{Policy, Subscriber, recommend};
use cvm_offers::tables::read_plans;
use cvm_offers::tariff::bill_total;
use cvm_offers::{PaymentType, UsageMonth};

/// A small seeded generator (SplitMix64), so the benchmark needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let plans = read_plans(Path::new(args.get(2).ok_or("usage: price_bench N PLANS.csv")?))?;
    let month = Month::new(2026, 3)?;
    let mut rng = Rng(20260101);
    let usage: Vec<[UsageMonth; 3]> = (0..n)
        .map(|i| {
            let base = (rng.below(1500), rng.below(60_000), rng.below(200));
            [0, 1, 2].map(|k| UsageMonth {
                subscriber_id: i as i64 + 1,
                month: month.plus(k - 2),
                voice_min: base.0 * (80 + rng.below(40)) / 100,
                data_mb: base.1 * (70 + rng.below(60)) / 100,
                sms: base.2 * (50 + rng.below(100)) / 100,
            })
        })
        .collect();

    let started = Instant::now();
    let mut checksum = 0i64;
    for window in &usage {
        let u = &window[2];
        for plan in &plans {
            checksum = checksum.wrapping_add(bill_total(plan, u).0);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let bills = n * plans.len();
    println!(
        "priced {n} subscribers x {} plans = {bills} bills in {secs:.3} s ({:.1} ns/bill, {:.0} M bills/s; checksum {checksum})",
        plans.len(),
        secs * 1e9 / bills as f64,
        bills as f64 / secs / 1e6
    );

    let started = Instant::now();
    let mut changes = 0usize;
    for (i, window) in usage.iter().enumerate() {
        let subscriber = Subscriber {
            subscriber_id: i as i64 + 1,
            payment_type: if i % 3 == 0 { PaymentType::Prepaid } else { PaymentType::Postpaid },
            tenure_months: (i % 120) as u32,
        };
        let current = &plans[i % plans.len()];
        if let Some(rec) = recommend(&subscriber, current, window, &plans, Policy::MinimumBill) {
            changes += usize::from(!rec.is_current);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "plan fit (minimum bill over 3 months, {} plans) for {n} subscribers in {secs:.3} s ({:.2} us/subscriber; {changes} would change plan)",
        plans.len(),
        secs * 1e6 / n as f64
    );
    Ok(())
}
