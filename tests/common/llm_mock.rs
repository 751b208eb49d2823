//! An OpenAI-compatible mock LLM on loopback (wiremock), shared by the LLM tests and the turns
//! bench (which includes this file by path).

#![allow(dead_code)]

use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A chat-completion response body whose answer is `content`.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
        "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    })
}

/// A mock LLM: extraction calls (they carry the JSON schema) get an empty object, reply calls
/// get `reply` (a completion, an error status, or a delayed answer).
pub async fn mock_llm(reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_string_contains("json_schema"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{}")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(reply)
        .with_priority(2)
        .mount(&server)
        .await;
    server
}
