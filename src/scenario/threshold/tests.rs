use super::*;

const STEPS: &[&str] = &["create_chat", "wait.active"];

#[test]
fn rates_outside_0_to_100_percent_and_negative_bounds_are_refused() {
    let err = |e: &str| parse(e, STEPS, false).unwrap_err();
    assert_eq!(
        err("errors.rate < 150%"),
        "`errors.rate < 150%`: a rate is from 0% to 100%, not `150%`"
    );
    assert!(err("errors.rate < 1.5").contains("a rate is a percentage"));
    assert!(err("create_chat.error_rate < -1%").contains("from 0% to 100%"));
    assert_eq!(
        err("create_chat.p99 < -5ms"),
        "`create_chat.p99 < -5ms`: a latency cannot be negative: `-5ms`"
    );
    assert!(err("errors.count < -1").contains("cannot be negative"));
    assert!(parse("errors.rate <= 100%", STEPS, false).is_ok());
}

#[test]
fn parses_steps_routes_iteration_and_run_metrics() {
    let quantile = |q, corrected| Some(StatMetric::Quantile { q, corrected });
    for (text, subject, stat, limit) in [
        (
            "create_chat.p99 < 300ms",
            Subject::Step("create_chat".into()),
            quantile(0.99, false),
            300_000.0,
        ),
        (
            "iteration.p95_corrected <= 2s",
            Subject::Iteration,
            quantile(0.95, true),
            2_000_000.0,
        ),
        (
            "iteration[chat].p95 < 500ms",
            Subject::FlowIteration("chat".into()),
            quantile(0.95, false),
            500_000.0,
        ),
        (
            "route(POST /chats).p99.9 < 1s",
            Subject::Route("POST /chats".into()),
            quantile(0.999, false),
            1_000_000.0,
        ),
    ] {
        let t = parse(text, STEPS, false).unwrap();
        assert_eq!(
            (t.subject, t.stat, t.limit),
            (subject, stat, limit),
            "{text}"
        );
    }
    let t = parse("create_chat.p99 < 300ms", STEPS, false).unwrap();
    assert_eq!(t.op, Op::Lt);
    assert!(parse("iteration[].p95 < 1s", STEPS, false).is_err());
    assert!(parse("iteration[chat.p95 < 1s", STEPS, false).is_err());
    assert!(parse("iteration[chat].p98 < 1s", STEPS, false).is_err());
    assert_eq!(parse("errors.rate < 1%", STEPS, true).unwrap().limit, 0.01);
    assert_eq!(
        parse("schema_violations == 0", STEPS, false)
            .unwrap()
            .subject,
        Subject::Run(RunMetric::SchemaViolations)
    );
    assert_eq!(
        parse("wait.active.max < 5s", STEPS, false).unwrap().subject,
        Subject::Step("wait.active".into())
    );
}

#[test]
fn webhook_metrics_parse_with_their_units() {
    let t = parse("time_to_assign.p95 < 5s", STEPS, false).unwrap();
    assert_eq!(t.subject, Subject::Lifecycle(LifecycleMetric::TimeToAssign));
    assert_eq!((t.limit, t.unit), (5e6, Unit::Micros));
    assert!(t.subject.needs_webhooks());
    for (expr, metric) in [
        ("time_in_queue.mean < 2s", LifecycleMetric::TimeInQueue),
        (
            "time_to_first_agent_reply.p99.9 <= 10s",
            LifecycleMetric::TimeToFirstAgentReply,
        ),
        ("chat_duration.max < 5m", LifecycleMetric::ChatDuration),
    ] {
        assert_eq!(
            parse(expr, STEPS, false).unwrap().subject,
            Subject::Lifecycle(metric)
        );
    }
    let t = parse("event(chats:join).p99 < 500ms", STEPS, false).unwrap();
    assert_eq!(t.subject, Subject::Event("chats:join".into()));
    assert_eq!(t.limit, 500_000.0);
    let t = parse("event(messages:new).count >= 10", STEPS, false).unwrap();
    assert_eq!((t.stat, t.unit), (Some(StatMetric::Count), Unit::Plain));
    for (expr, metric) in [
        ("events.missing == 0", RunMetric::EventsMissing),
        ("events.duplicate == 0", RunMetric::EventsDuplicate),
        ("events.late < 5", RunMetric::EventsLate),
        ("events.out_of_order == 0", RunMetric::EventsOutOfOrder),
        (
            "events.invalid_signatures == 0",
            RunMetric::EventsInvalidSignatures,
        ),
        ("queue.abandoned <= 3", RunMetric::QueueAbandoned),
        (
            "events.schema_violations == 0",
            RunMetric::EventsSchemaViolations,
        ),
    ] {
        let t = parse(expr, STEPS, false).unwrap();
        assert_eq!(
            (t.subject.clone(), t.unit),
            (Subject::Run(metric), Unit::Plain)
        );
        assert!(t.subject.needs_webhooks());
    }
    assert!(
        !parse("errors.rate < 1%", STEPS, false)
            .unwrap()
            .subject
            .needs_webhooks()
    );
    for bad in [
        "time_to_assign.error_rate < 1%",
        "time_to_assign.p99_corrected < 1s",
        "time_to_assign.p98 < 1s",
        "event(chats:join.p99 < 1s",
        "time_to_assign.p95 < 5",
    ] {
        assert!(parse(bad, STEPS, false).is_err(), "{bad}");
    }
}

#[test]
fn unknown_names_and_units_are_errors_that_say_what_was_expected() {
    let e = parse("create_chat.p98 < 1s", STEPS, false).unwrap_err();
    assert!(e.contains("unknown metric") && e.contains("p99"), "{e}");
    let e = parse("create_caht.p99 < 1s", STEPS, false).unwrap_err();
    assert!(
        e.contains("unknown step `create_caht`") && e.contains("create_chat"),
        "{e}"
    );
    assert!(parse("errs.rate < 1%", STEPS, false).is_err());
    assert!(
        parse("create_chat.p99 < 300", STEPS, false)
            .unwrap_err()
            .contains("needs a unit")
    );
    assert!(parse("errors.rate < 5", STEPS, false).is_err());
    assert!(
        parse("create_chat.p99 300ms", STEPS, false)
            .unwrap_err()
            .contains("comparison")
    );
    assert!(
        parse("create_chat.p99 < 1s", STEPS, true)
            .unwrap_err()
            .contains("abort_on_fail")
    );
}

#[test]
fn an_operator_outside_the_grammar_is_named_with_the_operators() {
    for (text, written) in [
        ("errors.rate =< 1%", "=<"),
        ("errors.rate => 1%", "=>"),
        ("errors.rate <> 1%", "<>"),
        ("create_chat.p99 <<= 1s", "<<="),
    ] {
        assert_eq!(
            parse(text, STEPS, false).unwrap_err(),
            format!("`{text}`: operator `{written}` is not understood: use <, <=, >, >=, == or !=")
        );
    }
    assert!(
        parse("errors.rate 1%", STEPS, false)
            .unwrap_err()
            .contains("operators <, <=, >, >=, == and !=")
    );
    assert_eq!(parse("errors.rate>=1%", STEPS, false).unwrap().op, Op::Ge);
}

#[test]
fn a_route_is_written_in_route_parentheses_or_in_double_quotes() {
    for text in ["\"POST /chats\".p99 < 1s", "route(POST /chats).p99 < 1s"] {
        let t = parse(text, STEPS, false).unwrap();
        assert_eq!(t.subject, Subject::Route("POST /chats".into()), "{text}");
        assert_eq!(
            t.stat,
            Some(StatMetric::Quantile {
                q: 0.99,
                corrected: false
            })
        );
        // As a report stores it and `merge`/`report` read it back.
        assert_eq!(
            parse_recorded(text, false, false).unwrap().subject,
            t.subject
        );
    }
    assert!(
        parse("\"POST /chats.p99 < 1s", STEPS, false)
            .unwrap_err()
            .starts_with("unknown metric `\"POST /chats.p99`")
    );
}

/// Outside audit 4, F10: `errors.rate < 1` read as "< 100%" passed a run
/// with half its requests failing; a bare `1` on a rate is a typo for `1%`
/// with `<`, always true with `<=` and never true with `>`.
#[test]
fn a_bare_1_on_a_rate_is_refused_where_it_cannot_mean_every() {
    let err = |e: &str| parse(e, STEPS, false).unwrap_err();
    assert_eq!(
        err("errors.rate < 1"),
        "`errors.rate < 1`: a bare number on a rate is a fraction (0.01 is 1%), so `1` is 100% \
         and this reads as `< 100%`; write `1%` for one percent, or `100%` if you mean every one"
    );
    assert!(err("create_chat.error_rate <= 1.0").contains("reads as `<= 100%`"));
    assert!(err("checks.rate > 1").contains("reads as `> 100%`"));
    // "Every check passes" and its negation are what they say.
    for fine in [
        "checks.rate == 1",
        "checks.rate >= 1",
        "errors.rate < 0.5",
        "errors.rate < 1%",
    ] {
        assert!(parse(fine, STEPS, false).is_ok(), "{fine}");
    }
    // A report stored before this rule still reads.
    assert!(parse_recorded("errors.rate < 1", false, false).is_ok());
}

/// A limit every value meets or none does judges nothing: it is valid but
/// the caller warns.
#[test]
fn a_limit_that_cannot_fail_or_cannot_pass_is_named() {
    let foregone = |e: &str| parse(e, STEPS, false).unwrap().foregone();
    assert_eq!(foregone("errors.rate <= 100%"), Some(true));
    assert_eq!(foregone("iterations.error_rate >= 0%"), Some(true));
    assert_eq!(foregone("errors.count >= 0"), Some(true));
    assert_eq!(foregone("errors.count < 0"), Some(false));
    assert_eq!(foregone("create_chat.p99 < 0ms"), Some(false));
    assert_eq!(foregone("errors.rate < 100%"), None);
    assert_eq!(foregone("errors.count <= 0"), None);
    assert_eq!(foregone("checks.rate == 1"), None);
}

/// Outside audit 4, F12.4: a second comparison is named as such, not as a
/// missing unit.
#[test]
fn a_second_comparison_is_named() {
    let err = |e: &str| parse(e, STEPS, false).unwrap_err();
    assert_eq!(
        err("create_chat.p99 < 1s < 2s"),
        "`create_chat.p99 < 1s < 2s`: one comparison per threshold, found a second `<` in \
         `1s < 2s`; write each limit as a threshold of its own"
    );
    assert!(err("errors.rate < 1% <= 2%").contains("a second `<=`"));
}
