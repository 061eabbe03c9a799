#include "model/bert.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace pkd::model {
namespace F = torch::nn::functional;

namespace {

torch::nn::LayerNorm layer_norm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings",
                                          torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids,
                                          const torch::Tensor& token_type_ids) {
  const auto length = input_ids.size(1);
  if (length > position_embeddings->weight.size(0))
    fail("sequence of ", length, " tokens exceeds max_position_embeddings ",
         position_embeddings->weight.size(0));
  auto positions = torch::arange(length, input_ids.options());
  // Same summation order as HuggingFace: (word + token type) + position.
  auto x = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);
  x = x + position_embeddings(positions);
  return dropout(LayerNorm(x));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : heads(c.num_attention_heads), head_size(c.head_size()) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                             bool cls_only, torch::Tensor* probs_out) {
  const auto b = x.size(0);
  auto split_heads = [&](const torch::Tensor& y) {
    return y.view({b, y.size(1), heads, head_size}).transpose(1, 2);
  };
  auto q = split_heads(query(cls_only ? x.narrow(1, 0, 1) : x));
  auto k = split_heads(key(x));
  auto v = split_heads(value(x));
  // scores = q k^T / sqrt(d) + mask, as HuggingFace (division after the product).
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size));
  auto probs = torch::softmax(scores + mask, -1);
  if (probs_out) *probs_out = probs;
  probs = dropout(probs);
  return torch::matmul(probs, v).transpose(1, 2).reshape({b, q.size(2), heads * head_size});
}

BertResidualOutputImpl::BertResidualOutputImpl(const BertConfig& c, std::int64_t in_features) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& x,
                                              const torch::Tensor& residual) {
  return LayerNorm(dropout(dense(x)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c, c.hidden_size));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                         bool cls_only, torch::Tensor* probs) {
  return output(self(x, mask, cls_only, probs), cls_only ? x.narrow(1, 0, 1) : x);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : activation(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& x) {
  auto y = dense(x);
  if (activation == "gelu") return torch::gelu(y);  // exact, erf-based
  if (activation == "relu") return torch::relu(y);
  return torch::gelu(y, "tanh");  // gelu_new, gelu_pytorch_tanh
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c, c.intermediate_size));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                     bool cls_only, torch::Tensor* probs) {
  auto a = attention(x, mask, cls_only, probs);
  return output(intermediate(a), a);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden) {
  return torch::tanh(dense(hidden.select(1, 0)));
}

BertModelImpl::BertModelImpl(const BertConfig& c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c));
  pooler = register_module("pooler", BertPooler(c));
}

BertOutput BertModelImpl::forward(const torch::Tensor& input_ids,
                                  const torch::Tensor& token_type_ids,
                                  const torch::Tensor& attention_mask, HiddenStates hidden,
                                  bool attentions) {
  if (input_ids.dim() != 2 || token_type_ids.sizes() != input_ids.sizes() ||
      attention_mask.sizes() != input_ids.sizes())
    fail("BERT inputs must be [batch, length] tensors of the same shape, got input_ids ",
         input_ids.sizes(), ", token_type_ids ", token_type_ids.sizes(), ", attention_mask ",
         attention_mask.sizes());
  auto x = embeddings(input_ids, token_type_ids);
  // Additive mask [B, 1, 1, T]: 0 for tokens, the dtype's lowest value for padding keys (as
  // HuggingFace), so padded positions get exactly zero attention weight.
  const double lowest = x.scalar_type() == torch::kDouble ? std::numeric_limits<double>::lowest()
                                                          : std::numeric_limits<float>::lowest();
  auto mask = (1.0 - attention_mask.to(x.scalar_type())).mul(lowest).unsqueeze(1).unsqueeze(2);
  BertOutput out;
  auto keep = [&](const torch::Tensor& h) {
    if (hidden == HiddenStates::cls) out.hidden_states.push_back(h.select(1, 0));
    if (hidden == HiddenStates::all) out.hidden_states.push_back(h);
  };
  keep(x);
  for (std::size_t i = 0; i < encoder->size(); ++i) {
    // Nothing reads the last layer's non-[CLS] rows unless all hidden states are returned: the
    // pooler takes row 0. Computing only that row's query, attention output and feed-forward
    // saves ~80% of the last layer's FLOPs (a sixth of a 6-layer student's), forward and backward.
    const bool cls_only = i + 1 == encoder->size() && hidden != HiddenStates::all && !attentions;
    torch::Tensor probs;
    x = encoder->at(i).forward(x, mask, cls_only, attentions ? &probs : nullptr);
    keep(x);
    if (attentions) out.attentions.push_back(probs);
  }
  out.pooled = pooler(x);
  return out;
}

BertForSequenceClassificationImpl::BertForSequenceClassificationImpl(const BertConfig& c)
    : config_(c) {
  bert = register_module("bert", BertModel(c));
  dropout = register_module(
      "dropout",
      torch::nn::Dropout(c.classifier_dropout >= 0 ? c.classifier_dropout : c.hidden_dropout_prob));
  classifier = register_module("classifier", torch::nn::Linear(c.hidden_size, c.num_labels));
}

BertOutput BertForSequenceClassificationImpl::forward(const torch::Tensor& input_ids,
                                                      const torch::Tensor& token_type_ids,
                                                      const torch::Tensor& attention_mask,
                                                      HiddenStates hidden, bool attentions) {
  BertOutput out = bert(input_ids, token_type_ids, attention_mask, hidden, attentions);
  out.logits = classifier(dropout(out.pooled));
  return out;
}

void BertForSequenceClassificationImpl::init_weights() {
  torch::NoGradGuard no_grad;
  const double std = config_.initializer_range;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      linear->weight.normal_(0.0, std);
      linear->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::EmbeddingImpl>()) {
      emb->weight.normal_(0.0, std);
      if (emb->options.padding_idx()) emb->weight[*emb->options.padding_idx()].zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNormImpl>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}

void BertForSequenceClassificationImpl::init_classifier() {
  torch::NoGradGuard no_grad;
  classifier->weight.normal_(0.0, config_.initializer_range);
  classifier->bias.zero_();
}

torch::Tensor cls_rows(const BertOutput& out, const std::vector<std::int64_t>& layers) {
  std::vector<torch::Tensor> rows;
  for (auto l : layers) {
    if (l < 0 || l >= static_cast<std::int64_t>(out.hidden_states.size()))
      fail("internal: [CLS] row ", l, " of ", out.hidden_states.size(), " hidden states");
    const auto& h = out.hidden_states[static_cast<std::size_t>(l)];
    rows.push_back((h.dim() == 3 ? h.select(1, 0) : h).to(torch::kFloat));
  }
  return torch::stack(rows);
}

}  // namespace pkd::model
