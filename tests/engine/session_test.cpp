// Session against the bundled demo model: its text equals Engine::generate + a StreamDecoder (and
// transformers' greedy text), concurrent requests on one engine each stream their own text, empty
// prompts and engine refusals surface as strata::Error, and the chat-template hook is used when set.
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "strata/core/error.h"
#include "strata/engine/engine.h"
#include "strata/engine/session.h"
#include "strata/model/model.h"
#include "strata/tokenizer/stream_decoder.h"
#include "strata/tokenizer/tokenizer.h"

namespace strata::engine {
namespace {

const std::filesystem::path kDemo = std::filesystem::path(STRATA_SOURCE_DIR) / "models/demo";

struct Demo {
  tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::load(kDemo / "tokenizer.json");
  std::unique_ptr<model::Model> model = model::Model::load(kDemo);
  nlohmann::json reference = [] {
    std::ifstream in(kDemo / "greedy_reference.json");
    return nlohmann::json::parse(in);
  }();
};

const Demo& demo() {
  static const Demo d;
  return d;
}

EngineOptions small_engine() { return EngineOptions{.max_sequences = 2, .max_context = 256, .threads = 2}; }

SamplingParams greedy(int max_new_tokens) {
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = max_new_tokens;
  p.ignore_eos = true;
  return p;
}

// What callers wrote before Session: Engine::generate with a StreamDecoder feeding token_text.
Result engine_with_decoder(Engine& engine, const std::string& prompt, const SamplingParams& params) {
  tokenizer::StreamDecoder decoder(demo().tokenizer, /*skip_special_tokens=*/true);
  return engine.generate(demo().tokenizer.encode(prompt, true), params,
                         [&decoder](int32_t token) { return decoder.push(token); });
}

TEST(Session, GreedyTextEqualsEngineWithStreamDecoder) {
  const auto& ref = demo().reference;
  const std::string prompt = ref["prompt"].get<std::string>();
  const int n = static_cast<int>(ref["generated_ids"].size());
  Engine engine(*demo().model, small_engine());
  const Result expected = engine_with_decoder(engine, prompt, greedy(n));

  Session session(demo().tokenizer, engine);
  std::string streamed;
  int pieces = 0;
  const Result result = session.generate(prompt, greedy(n), [&](std::string_view text) {
    EXPECT_FALSE(text.empty());
    streamed += text;
    ++pieces;
  });
  EXPECT_EQ(result.tokens, expected.tokens);
  EXPECT_EQ(result.text, expected.text);
  EXPECT_EQ(result.tokens, ref["generated_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result.text, ref["generated_text"].get<std::string>());
  EXPECT_EQ(streamed, result.text);
  EXPECT_GT(pieces, 1);  // streamed as it was produced, not in one piece at the end
  EXPECT_EQ(result.reason, FinishReason::length);
  EXPECT_EQ(result.stats.prompt_tokens, static_cast<int64_t>(ref["prompt_ids"].size()));
  EXPECT_EQ(result.stats.generated_tokens, n);

  // A token-id prompt gives the same as its text.
  const Result from_ids = session.generate(ref["prompt_ids"].get<std::vector<int32_t>>(), greedy(n));
  EXPECT_EQ(from_ids.text, result.text);
}

TEST(Session, StopStringsWorkBecauseTheSessionSuppliesTokenText) {
  Engine engine(*demo().model, small_engine());
  Session session(demo().tokenizer, engine);
  SamplingParams params = greedy(32);
  params.stop_strings = {" were"};
  // The reference continuation is ", the two men were in the room, ...".
  const Result result = session.generate(demo().reference["prompt"].get<std::string>(), params);
  EXPECT_EQ(result.text, ", the two men");
  EXPECT_EQ(result.reason, FinishReason::stop);
  EXPECT_EQ(result.message, "stop string \" were\"");
}

// Collects the events of several requests, keyed by id, from the engine's stepping thread.
struct Collector {
  std::mutex mutex;
  std::map<RequestId, std::string> text;
  std::map<RequestId, FinishReason> reason;
  std::vector<RequestId> order;  // the request of every event, in delivery order
  std::promise<void> all_done;
  int remaining = 0;

  EventCallback callback() {
    return [this](const Event& event) {
      std::lock_guard lock(mutex);
      order.push_back(event.id);
      text[event.id] += event.text;
      if (event.kind == Event::Kind::finished) {
        reason[event.id] = event.reason;
        if (--remaining == 0) all_done.set_value();
      }
    };
  }
};

// Whether a request's events began before the other's ended: proof the two ran in the same steps.
bool interleaved(const std::vector<RequestId>& order, RequestId a, RequestId b) {
  size_t last_a = 0, first_b = order.size();
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] == a) last_a = i;
    if (order[i] == b && first_b == order.size()) first_b = i;
  }
  return first_b < last_a;
}

TEST(Session, ConcurrentRequestsStreamTheSameTextsAsEachAlone) {
  const std::string first = demo().reference["prompt"].get<std::string>();
  const std::string second = "The jury said that";
  Engine engine(*demo().model, small_engine());
  Session session(demo().tokenizer, engine);
  const std::string first_alone = session.generate(first, greedy(24)).text;
  const std::string second_alone = session.generate(second, greedy(20)).text;
  ASSERT_NE(first_alone, second_alone);  // else a swapped stream would go unnoticed
  ASSERT_FALSE(second_alone.empty());

  // Stepped on this thread.
  {
    Collector c;
    c.remaining = 2;
    const RequestId a = session.submit(first, greedy(24), c.callback());
    const RequestId b = session.submit(second, greedy(20), c.callback());
    engine.run_until_idle();
    EXPECT_TRUE(interleaved(c.order, a, b));
    EXPECT_EQ(c.text[a], first_alone);
    EXPECT_EQ(c.text[b], second_alone);
    EXPECT_EQ(c.reason[a], FinishReason::length);
    EXPECT_EQ(c.reason[b], FinishReason::length);
  }
  // Submitted from two threads while the engine steps on its background thread.
  {
    Collector c;
    c.remaining = 2;
    std::future<void> done = c.all_done.get_future();
    engine.start();
    auto fa = std::async(std::launch::async, [&] { return session.submit(first, greedy(24), c.callback()); });
    auto fb = std::async(std::launch::async, [&] { return session.submit(second, greedy(20), c.callback()); });
    const RequestId a = fa.get(), b = fb.get();
    ASSERT_EQ(done.wait_for(std::chrono::seconds(120)), std::future_status::ready);
    engine.stop();
    std::lock_guard lock(c.mutex);
    EXPECT_EQ(c.text[a], first_alone);
    EXPECT_EQ(c.text[b], second_alone);
  }
}

TEST(Session, EmptyPromptIsAClearError) {
  Engine engine(*demo().model, small_engine());
  Session session(demo().tokenizer, engine);
  const std::string message = "the prompt encodes to no tokens; give some text";
  try {
    session.encode("", /*add_special_tokens=*/false);
    FAIL() << "encode(\"\") without special tokens must throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
  EXPECT_THROW(session.generate("", greedy(4), {}, /*add_special_tokens=*/false), Error);
  EXPECT_THROW(session.submit("", greedy(4), {}, /*add_special_tokens=*/false), Error);
  EXPECT_EQ(engine.stats().submitted, 0u);  // rejected before reaching the engine
  // With special tokens the demo tokenizer's post-processor adds BOS, so "" is a one-token prompt.
  EXPECT_EQ(session.encode("", true), std::vector<int32_t>{*demo().tokenizer.bos_id()});
}

TEST(Session, EngineErrorsThrowTheEngineMessage) {
  Engine engine(*demo().model, EngineOptions{.max_sequences = 1, .max_context = 8, .threads = 2});
  Session session(demo().tokenizer, engine);
  try {
    session.generate("In the morning", greedy(16));
    FAIL() << "a request longer than max_context must throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "request refused: prompt of 4 tokens plus max_new_tokens 16 is 20 tokens, more than max_context 8");
  }
  // An empty token-id prompt is the engine's to judge.
  EXPECT_THROW(session.generate(std::vector<int32_t>{}, greedy(4)), Error);
  EXPECT_EQ(engine.stats().refused, 2u);
}

TEST(Session, ChatTemplateHook) {
  Engine engine(*demo().model, small_engine());
  Session session(demo().tokenizer, engine);
  const auto messages = nlohmann::json::array({{{"role", "user"}, {"content", "In the"}}});
  EXPECT_FALSE(session.has_chat_template());
  try {
    session.render_chat(messages);
    FAIL() << "render_chat without a template must throw";
  } catch (const Error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("this model has no chat template")) << e.what();
  }

  session.set_chat_template([](const nlohmann::json& msgs, bool add_generation_prompt) {
    std::string out;
    for (const auto& m : msgs) out += m["content"].get<std::string>();
    if (add_generation_prompt) out += " morning";
    return out;
  });
  EXPECT_TRUE(session.has_chat_template());
  EXPECT_EQ(session.render_chat(messages, false), "In the");
  const std::string rendered = session.render_chat(messages);
  EXPECT_EQ(rendered, "In the morning");
  // The rendered text is an ordinary prompt: here it is the reference prompt, so the reference text follows.
  const int n = static_cast<int>(demo().reference["generated_ids"].size());
  EXPECT_EQ(session.generate(rendered, greedy(n)).text, demo().reference["generated_text"].get<std::string>());

  try {
    session.render_chat(nlohmann::json::object({{"role", "user"}}));
    FAIL() << "messages that are not an array must throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "chat messages must be a JSON array of messages, got object");
  }
}

}  // namespace
}  // namespace strata::engine
