//! Request bodies from a template (`--endpoint-type template`): a JSON text with Jinja
//! placeholders, rendered by minijinja. The variables are `prompt`, `model`, `max_tokens` (null
//! when no output length is asked for) and `stream`; a string goes into the JSON through the
//! `tojson` filter (`{"text": {{ prompt|tojson }}}`), which escapes it.

use serde_json::Value;

/// What a template is rendered with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TemplateValues<'a> {
    /// The prompt text.
    pub prompt: &'a str,
    /// The model name.
    pub model: &'a str,
    /// The requested output length, if any.
    pub max_tokens: Option<u32>,
    /// Whether a stream is asked for.
    pub stream: bool,
}

/// The variables a template may use.
pub const VARIABLES: &[&str] = &["prompt", "model", "max_tokens", "stream"];

/// Renders `template` and parses the result as a JSON object: the request body, or why not.
pub fn render(template: &str, values: &TemplateValues<'_>) -> Result<Value, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let compiled = env
        .template_from_str(template)
        .map_err(|e| format!("the body template does not render: {e}"))?;
    // A variable that is none of ours is a typo (filters pass undefined values on silently).
    let mut unknown: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(name) = unknown.first() {
        let hint = super::suggest::closest(name, VARIABLES.iter().copied())
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        return Err(format!(
            "the body template does not render: unknown variable '{name}' (the variables are {}){hint}",
            VARIABLES.join(", ")
        ));
    }
    let text = compiled
        .render(values)
        .map_err(|e| format!("the body template does not render: {e}"))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(body @ Value::Object(_)) => Ok(body),
        Ok(_) => Err("the body template must render a JSON object".into()),
        Err(e) => Err(format!(
            "the body template renders invalid JSON ({e}); put strings in with {{{{ prompt|tojson }}}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(prompt: &str) -> TemplateValues<'_> {
        TemplateValues {
            prompt,
            model: "m",
            max_tokens: Some(8),
            stream: true,
        }
    }

    #[test]
    fn placeholders_are_filled_and_strings_escaped() {
        let body = render(
            r#"{"inputs": {{ prompt|tojson }}, "model": {{ model|tojson }}, "parameters": {"max_new_tokens": {{ max_tokens }}, "stream": {{ stream|tojson }}}}"#,
            &values("say \"hi\"\nnow"),
        )
        .unwrap();
        assert_eq!(body["inputs"], "say \"hi\"\nnow");
        assert_eq!(body["model"], "m");
        assert_eq!(body["parameters"]["max_new_tokens"], 8);
        assert_eq!(body["parameters"]["stream"], true);
    }

    #[test]
    fn mistakes_are_explained() {
        let err = render(r#"{"x": {{ promt|tojson }}}"#, &values("p")).unwrap_err();
        assert!(
            err.contains("unknown variable 'promt'") && err.contains("did you mean 'prompt'"),
            "{err}"
        );
        let err = render(r#"{"x": "{{ prompt }}"#, &values("p")).unwrap_err();
        assert!(err.contains("invalid JSON"), "{err}");
        let err = render(r#"[{{ prompt|tojson }}]"#, &values("p")).unwrap_err();
        assert!(err.contains("JSON object"), "{err}");
        assert!(render("{% if %}", &values("p")).is_err());
    }

    proptest! {
        #[test]
        fn any_prompt_survives_tojson(prompt in ".{0,64}") {
            let body = render(r#"{"p": {{ prompt|tojson }}}"#, &values(&prompt)).unwrap();
            prop_assert_eq!(body["p"].as_str(), Some(prompt.as_str()));
        }

        #[test]
        fn any_template_renders_or_is_refused_without_panicking(template in ".{0,48}") {
            let _ = render(&template, &values("p"));
        }
    }
}
