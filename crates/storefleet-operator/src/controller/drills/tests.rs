use super::*;
use storefleet_types::Store;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn run(job: &str, started: &str) -> DrillRun {
    DrillRun {
        job: job.into(),
        namespace: "storefleet-drill-alice".into(),
        started_at: started.into(),
        ..DrillRun::default()
    }
}

fn inputs<'a>(status: Option<&'a BackupStatus>, now: &str) -> Inputs<'a> {
    Inputs {
        schedule: Some("0 5 * * 0"),
        backed_up: true,
        status,
        asked: None,
        namespace_exists: false,
        job: None,
        capacity: (0, 2),
        now: at(now),
    }
}

#[test]
fn the_first_drill_runs_right_after_the_first_backup_then_on_the_schedule() {
    // 2026-12-03 is a Thursday; the schedule is Sundays at 05:00 UTC.
    let none = BackupStatus::default();
    assert_eq!(
        next(&inputs(Some(&none), "2026-12-03T10:00:00Z")),
        Next::Start {
            job: format!("drill-{}", at("2026-12-03T10:00:00Z").as_second() / 60),
            asked: None
        },
        "no drill yet: one at once"
    );
    let mut last = run("drill-1", "2026-12-03T10:00:00Z");
    last.finished_at = Some("2026-12-03T10:03:00Z".into());
    last.succeeded = Some(true);
    let drilled = BackupStatus {
        last_drill: Some(last),
        ..BackupStatus::default()
    };
    assert_eq!(
        next(&inputs(Some(&drilled), "2026-12-06T04:59:00Z")),
        Next::Idle,
        "before Sunday 05:00"
    );
    assert!(matches!(
        next(&inputs(Some(&drilled), "2026-12-06T05:00:00Z")),
        Next::Start { .. }
    ));
    // A store without a successful backup, not set up, or with backups off: nothing.
    let mut off = inputs(Some(&none), "2026-12-03T10:00:00Z");
    off.backed_up = false;
    assert_eq!(next(&off), Next::Idle);
    let mut off = inputs(Some(&none), "2026-12-03T10:00:00Z");
    off.schedule = None;
    assert_eq!(next(&off), Next::Idle);
}

#[test]
fn an_asked_drill_runs_once_per_value_and_the_fleet_waits_for_capacity() {
    let mut last = run("drill-1", "2026-12-03T10:00:00Z");
    last.finished_at = Some("2026-12-03T10:03:00Z".into());
    last.asked = Some("a".into());
    let drilled = BackupStatus {
        last_drill: Some(last),
        ..BackupStatus::default()
    };
    let mut i = inputs(Some(&drilled), "2026-12-03T11:00:00Z");
    i.asked = Some("a");
    assert_eq!(next(&i), Next::Idle, "already answered");
    i.asked = Some("b");
    assert!(matches!(next(&i), Next::Start { asked: Some(a), .. } if a == "b"));
    i.capacity = (2, 2);
    assert_eq!(next(&i), Next::Idle, "two drills run: wait");
}

#[test]
fn a_running_drill_is_waited_for_recorded_when_its_job_ends_then_its_namespace_goes() {
    let running = BackupStatus {
        running_drill: Some(run("drill-1", "2026-12-03T10:00:00Z")),
        ..BackupStatus::default()
    };
    let mut i = inputs(Some(&running), "2026-12-03T10:00:30Z");
    assert_eq!(next(&i), Next::Wait, "made, not yet seen");
    i.namespace_exists = true;
    assert_eq!(next(&i), Next::Wait);
    let busy = JobSeen {
        state: JobState::Running("1 active".into()),
        owned: true,
        deleting: false,
        finished_at: None,
    };
    i.job = Some(&busy);
    assert_eq!(next(&i), Next::Wait);
    let failed = JobSeen {
        state: JobState::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into(),
        },
        finished_at: Some("2026-12-03T10:04:00Z".into()),
        ..busy.clone()
    };
    i.job = Some(&failed);
    assert_eq!(
        next(&i),
        Next::Finish {
            succeeded: false,
            reason: Some("BackoffLimitExceeded".into()),
            at: "2026-12-03T10:04:00Z".into()
        }
    );
    let succeeded = JobSeen {
        state: JobState::Succeeded,
        ..failed.clone()
    };
    i.job = Some(&succeeded);
    assert!(matches!(
        next(&i),
        Next::Finish {
            succeeded: true,
            ..
        }
    ));
    // Gone before it finished: a failure, once the watch had time to show it.
    i.namespace_exists = false;
    i.job = None;
    i.now = at("2026-12-03T10:01:00Z");
    assert_eq!(next(&i), Next::Wait);
    i.now = at("2026-12-03T10:05:00Z");
    assert_eq!(next(&i), Next::Vanished);
    // Recorded: its namespace goes, and no new drill starts while it is there.
    let recorded = BackupStatus::default();
    let mut i = inputs(Some(&recorded), "2026-12-03T10:05:00Z");
    i.namespace_exists = true;
    assert_eq!(next(&i), Next::Remove);
}

#[test]
fn the_condition_shows_the_newest_finished_drill() {
    let mut facts = StatusFacts::default();
    let mut last = run("drill-1", "2026-12-03T10:00:00Z");
    last.finished_at = Some("2026-12-03T10:04:00Z".into());
    last.succeeded = Some(false);
    last.message = Some("check: storefleet-drill: FAILED: product #12 answered 500".into());
    facts.backup = Some(BackupStatus {
        last_drill: Some(last),
        running_drill: Some(run("drill-2", "2026-12-03T11:00:00Z")),
        ..BackupStatus::default()
    });
    let config: crate::config::OperatorConfig = serde_saphyr::from_str(
        "backup:\n  s3: {endpoint: \"http://10.0.0.1:3900\", bucket: b}\n  credentialsSecret: s3\n  keySecret: key\n  egressCidrs: [10.0.0.1/32]\n",
    )
    .expect("config");
    let store = crate::validate::validate(&Store::test(), &config).expect("valid");
    assert_eq!(
        observed(&store, &facts),
        Some(Backups::Failed {
            job: "drill-1".into(),
            reason: "check: storefleet-drill: FAILED: product #12 answered 500".into(),
            logs: None
        }),
        "a running drill changes nothing until it ends"
    );
}
