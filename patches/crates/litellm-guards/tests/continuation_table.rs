//! The continuation detector against a table of real end-of-turn texts and stated-intent
//! texts from public agent transcripts and issue reports (tests/continuation_table.tsv,
//! a source per row). Prints precision and recall (docs/BACKENDS.md quotes them); fails
//! on any false positive: a real final answer must never be nudged.

use codex_litellm_guards::continuation::stated_next_action;

struct Row {
    intent: bool,
    source: String,
    text: String,
}

fn table() -> Vec<Row> {
    let raw = include_str!("continuation_table.tsv");
    raw.lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("label\t"))
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 4, "a row has 4 tab-separated fields: {line}");
            assert!(
                matches!(fields[1], "quoted" | "adapted"),
                "how is quoted or adapted: {line}"
            );
            assert!(
                fields[2].starts_with("https://"),
                "every row cites a source URL: {line}"
            );
            let intent = match fields[0] {
                "intent" => true,
                "end" => false,
                other => panic!("label is intent or end, not {other}: {line}"),
            };
            Row {
                intent,
                source: fields[2].to_string(),
                text: fields[3].replace("\\n", "\n"),
            }
        })
        .collect()
}

#[test]
fn detector_has_no_false_positive_and_reports_precision_and_recall() {
    let rows = table();
    let intents = rows.iter().filter(|r| r.intent).count();
    let ends = rows.len() - intents;
    assert!(
        intents >= 40,
        "at least 40 stated-intent rows, got {intents}"
    );
    assert!(ends >= 40, "at least 40 end-of-turn rows, got {ends}");

    let (mut tp, mut fp, mut fn_, mut tn) = (0u32, 0u32, 0u32, 0u32);
    let mut false_positives = Vec::new();
    for row in &rows {
        let fired = stated_next_action(&row.text);
        match (row.intent, &fired) {
            (true, Some(_)) => tp += 1,
            (true, None) => {
                fn_ += 1;
                println!("missed (false negative): {:?}  [{}]", row.text, row.source);
            }
            (false, Some(intent)) => {
                fp += 1;
                false_positives.push(format!("{:?} (cue {:?})", row.text, intent.cue));
            }
            (false, None) => tn += 1,
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    println!(
        "continuation detector: {intents} stated-intent rows, {ends} end-of-turn rows; tp={tp} fp={fp} fn={fn_} tn={tn}; precision={precision:.3} recall={recall:.3}"
    );
    assert!(
        false_positives.is_empty(),
        "real ends of turn the detector would nudge:\n{}",
        false_positives.join("\n")
    );
    // A floor under today's figure, so a change that loses recall is seen.
    assert!(recall >= 0.80, "recall fell to {recall:.3}");
}
