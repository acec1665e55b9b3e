#include "model/pinsage.h"

#include <functional>

#include "base/log.h"
#include "model/pinsage_impl.h"

namespace recd::model {

namespace F = torch::nn::functional;

PinSageConvImpl::PinSageConvImpl(int64_t in_dim, int64_t out_dim) {
  q = register_module("q", torch::nn::Linear(in_dim, in_dim));
  w = register_module("w", torch::nn::Linear(2 * in_dim, out_dim));
}

torch::Tensor PinSageConvImpl::forward(const torch::Tensor& self, const torch::Tensor& h_src,
                                       const torch::Tensor& neighbour_index,
                                       const torch::Tensor& neighbour_importance) {
  // neighbour_index: [num_outputs, T] into h_src rows; importance: [num_outputs, T].
  const int64_t num_outputs = neighbour_index.size(0);
  const int64_t t = neighbour_index.size(1);
  const auto gathered = h_src.index_select(0, neighbour_index.reshape({-1})).reshape({num_outputs, t, -1});
  const auto messages = torch::relu(q->forward(gathered));
  const auto weights = neighbour_importance.unsqueeze(-1);
  // Weighted mean; a node without neighbours pools to zeros.
  const auto pooled = (messages * weights).sum(1) / weights.sum(1).clamp_min(1e-6);
  const auto z = torch::relu(w->forward(torch::cat({self, pooled}, 1)));
  return F::normalize(z, F::NormalizeFuncOptions().p(2).dim(1).eps(1e-6));
}

PinSageNetImpl::PinSageNetImpl(const PinSageConfig& c) : config(c) {
  id_embedding = register_module("id_embedding", torch::nn::Embedding(c.id_buckets, c.id_dim));
  attribute_embeddings = register_module("attribute_embeddings", torch::nn::ModuleList());
  for (int64_t f = 0; f < c.attribute_fields; ++f) {
    attribute_embeddings->push_back(torch::nn::Embedding(c.attribute_buckets, c.attribute_dim));
  }
  int64_t in = c.id_dim + c.attribute_fields * c.attribute_dim;
  if (c.content_dim > 0) {
    content_projection = register_module("content_projection", torch::nn::Linear(c.content_dim, c.hidden_dim));
    in += c.hidden_dim;
  }
  input = register_module("input", torch::nn::Linear(in, c.hidden_dim));
  convs = register_module("convs", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.layers; ++l) convs->push_back(PinSageConv(c.hidden_dim, c.hidden_dim));
  output = register_module("output", torch::nn::Linear(c.hidden_dim, c.output_dim));
}

torch::Tensor PinSageNetImpl::Inputs(const torch::Tensor& id_bucket, const torch::Tensor& attributes,
                                     const torch::Tensor& content) {
  std::vector<torch::Tensor> parts = {id_embedding->forward(id_bucket)};
  for (int64_t f = 0; f < config.attribute_fields; ++f) {
    parts.push_back(attribute_embeddings[f]->as<torch::nn::Embedding>()->forward(attributes.select(1, f)));
  }
  if (config.content_dim > 0) parts.push_back(torch::relu(content_projection->forward(content)));
  return torch::relu(input->forward(torch::cat(parts, 1)));
}

torch::Tensor PinSageNetImpl::forward(const torch::Tensor& id_bucket, const torch::Tensor& attributes,
                                      const torch::Tensor& content, const std::vector<int64_t>& num_outputs,
                                      const std::vector<torch::Tensor>& neighbour_index,
                                      const std::vector<torch::Tensor>& neighbour_importance) {
  torch::Tensor h = Inputs(id_bucket, attributes, content);
  for (size_t l = 0; l < convs->size(); ++l) {
    h = convs[l]->as<PinSageConv>()->forward(h.narrow(0, 0, num_outputs[l]), h, neighbour_index[l],
                                             neighbour_importance[l]);
  }
  return Output(h);
}

torch::Tensor PinSageNetImpl::Output(const torch::Tensor& h) {
  return F::normalize(output->forward(h), F::NormalizeFuncOptions().p(2).dim(1).eps(1e-6));
}

PinSage::Impl::Batch PinSage::Impl::ToTensors(const ComputationGraph& graph, const NodeFeatures& f) const {
  Batch b = Structure(graph);
  Catalogue inputs = Upload(f);
  b.id_bucket = std::move(inputs.id_bucket);
  b.attributes = std::move(inputs.attributes);
  b.content = std::move(inputs.content);
  return b;
}

PinSage::Impl::Batch PinSage::Impl::ToTensors(const ComputationGraph& graph, const Catalogue& all) const {
  Batch b = Structure(graph);
  const auto& nodes = graph.blocks.front().nodes;
  std::vector<int64_t> rows(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k) rows[k] = nodes[k].value;
  const auto index = torch::tensor(rows, torch::kInt64).to(device);
  b.id_bucket = all.id_bucket.index_select(0, index);
  b.attributes = all.attributes.index_select(0, index);
  b.content = all.content.index_select(0, index);
  return b;
}

PinSage::Impl::Batch PinSage::Impl::Structure(const ComputationGraph& graph) const {
  Batch b;
  for (const Block& block : graph.blocks) {
    const int64_t outs = static_cast<int64_t>(block.num_outputs);
    const int64_t t = outs == 0 ? 0 : static_cast<int64_t>(block.neighbour_index.size()) / outs;
    b.num_outputs.push_back(outs);
    b.neighbour_index.push_back(
        torch::from_blob(const_cast<int64_t*>(block.neighbour_index.data()), {outs, t}, torch::kInt64).to(device));
    b.neighbour_importance.push_back(
        torch::from_blob(const_cast<float*>(block.neighbour_importance.data()), {outs, t}, torch::kFloat32).to(device));
  }
  return b;
}

PinSage::PinSage(const PinSageConfig& config, std::unique_ptr<Impl> impl) : config_(config), impl_(std::move(impl)) {}
PinSage::~PinSage() = default;

// OpenBLAS (Debian's LibTorch multiplies through it) keeps its own thread pool,
// which spins in sched_yield between calls; it is told separately when present.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

void PinSage::SetCpuThreads(int threads) {
  torch::set_num_threads(std::max(1, threads));
  if (openblas_set_num_threads) openblas_set_num_threads(std::max(1, threads));
}

Result<std::unique_ptr<PinSage>> PinSage::Create(const PinSageConfig& config, const std::string& device) {
  if (config.layers < 1 || config.hidden_dim < 1 || config.output_dim < 1 || config.id_buckets < 1) {
    return Status::InvalidArgument("PinSage needs layers, hidden_dim, output_dim and id_buckets >= 1");
  }
  std::string chosen = device;
  if (device == "auto") chosen = torch::cuda::is_available() ? "cuda" : "cpu";
  try {
    torch::Device d(chosen);
    if (d.is_cuda() && !torch::cuda::is_available()) {
      return Status::Unavailable("model.device is " + device + " but no CUDA device is available; use auto or cpu");
    }
    torch::manual_seed(config.seed);
    auto impl = std::make_unique<Impl>(config, d);
    return std::unique_ptr<PinSage>(new PinSage(config, std::move(impl)));
  } catch (const c10::Error& e) {
    return Status::InvalidArgument("model.device \"" + device + "\": " + e.what_without_backtrace());
  }
}

Result<std::vector<float>> PinSage::Embed(const ComputationGraph& graph, const NodeFeatures& features) {
  if (static_cast<int64_t>(graph.blocks.size()) != config_.layers) {
    return Status::InvalidArgument("computation graph has " + std::to_string(graph.blocks.size()) +
                                   " blocks, the model " + std::to_string(config_.layers) + " layers");
  }
  const size_t n = graph.blocks.front().nodes.size();
  if (features.id_bucket.size() != n || features.attributes.size() != n * config_.attribute_fields ||
      features.content.size() != n * config_.content_dim) {
    return Status::InvalidArgument("node features do not match the computation graph's " + std::to_string(n) +
                                   " input nodes");
  }
  try {
    torch::InferenceMode guard;
    impl_->net->eval();
    const auto out = impl_->Forward(impl_->ToTensors(graph, features)).to(torch::kCPU).contiguous();
    return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("PinSage forward: ") + e.what_without_backtrace());
  }
}

Result<std::vector<float>> PinSage::EmbedAll(const Sampler& sampler, const NodeFeatures& features, size_t chunk,
                                             const std::atomic<bool>* cancel) {
  // One neighbourhood per item, shared by every layer.
  return EmbedAll(sampler.SampleCatalogue(features.id_bucket.size()), features, chunk, cancel);
}

Result<std::vector<float>> PinSage::EmbedAll(const std::vector<Neighbourhood>& hoods, const NodeFeatures& features,
                                             size_t chunk, const std::atomic<bool>* cancel) {
  const auto& c = config_;
  const size_t n = features.id_bucket.size();
  if (features.attributes.size() != n * static_cast<size_t>(c.attribute_fields) ||
      features.content.size() != n * static_cast<size_t>(c.content_dim) || hoods.size() < n) {
    return Status::InvalidArgument("node features and neighbourhoods do not describe the same " + std::to_string(n) +
                                   " items");
  }
  try {
    torch::InferenceMode guard;
    impl_->net->eval();
    const auto out = impl_->EmbedAll(hoods, features, static_cast<int64_t>(chunk), cancel).to(torch::kCPU).contiguous();
    return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
  } catch (const Impl::Cancelled&) {
    return Status::Aborted("layer-wise inference cancelled");
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("PinSage layer-wise inference: ") + e.what_without_backtrace());
  }
}

PinSage::Impl::Catalogue PinSage::Impl::Upload(const NodeFeatures& f) const {
  const auto& c = net->config;
  const int64_t n = static_cast<int64_t>(f.id_bucket.size());
  const auto longs = torch::TensorOptions().dtype(torch::kInt64);
  const auto floats = torch::TensorOptions().dtype(torch::kFloat32);
  Catalogue cat;
  cat.id_bucket = torch::from_blob(const_cast<int64_t*>(f.id_bucket.data()), {n}, longs).to(device);
  cat.attributes = c.attribute_fields > 0
                       ? torch::from_blob(const_cast<int64_t*>(f.attributes.data()), {n, c.attribute_fields}, longs).to(device)
                       : torch::zeros({n, 0}, longs.device(device));
  cat.content = c.content_dim > 0
                    ? torch::from_blob(const_cast<float*>(f.content.data()), {n, c.content_dim}, floats).to(device)
                    : torch::zeros({n, 0}, floats.device(device));
  return cat;
}

torch::Tensor PinSage::Impl::EmbedAll(const std::vector<Neighbourhood>& hoods, const NodeFeatures& f, int64_t chunk,
                                      const std::atomic<bool>* cancel) {
  const int64_t n = static_cast<int64_t>(f.id_bucket.size());
  int64_t t = 1;
  for (int64_t i = 0; i < n; ++i) t = std::max<int64_t>(t, static_cast<int64_t>(hoods[static_cast<size_t>(i)].items.size()));
  std::vector<int64_t> index(static_cast<size_t>(n * t), 0);
  std::vector<float> importance(static_cast<size_t>(n * t), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const auto& h = hoods[static_cast<size_t>(i)];
    for (size_t s = 0; s < h.items.size(); ++s) {
      if (h.items[s].value >= n) continue;  // an item without features: leave the slot empty
      index[static_cast<size_t>(i * t) + s] = h.items[s].value;
      importance[static_cast<size_t>(i * t) + s] = h.importance[s];
    }
  }
  const Catalogue cat = Upload(f);
  const auto nbr = torch::from_blob(index.data(), {n, t}, torch::kInt64).to(device);
  const auto imp = torch::from_blob(importance.data(), {n, t}, torch::kFloat32).to(device);
  const int64_t step = std::max<int64_t>(1, chunk);
  auto by_chunks = [&](const std::function<torch::Tensor(int64_t, int64_t)>& fn) {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < n; s += step) {
      if (cancel && cancel->load()) throw Cancelled();
      parts.push_back(fn(s, std::min(step, n - s)));
    }
    return torch::cat(parts, 0);
  };
  torch::Tensor h = by_chunks([&](int64_t s, int64_t len) {
    return net->Inputs(cat.id_bucket.narrow(0, s, len), cat.attributes.narrow(0, s, len), cat.content.narrow(0, s, len));
  });
  for (size_t l = 0; l < net->convs->size(); ++l) {
    auto conv = net->convs[l]->as<PinSageConv>();
    h = by_chunks([&](int64_t s, int64_t len) { return conv->forward(h.narrow(0, s, len), h, nbr.narrow(0, s, len), imp.narrow(0, s, len)); });
  }
  return net->Output(h);
}

namespace {

std::vector<float> ToVector(const torch::Tensor& t) {
  const auto cpu = t.to(torch::kCPU).contiguous();
  return std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

}  // namespace

Result<std::vector<float>> PinSage::InputRows(const NodeFeatures& features) {
  const size_t n = features.id_bucket.size();
  if (features.attributes.size() != n * static_cast<size_t>(config_.attribute_fields) ||
      features.content.size() != n * static_cast<size_t>(config_.content_dim)) {
    return Status::InvalidArgument("node features do not describe " + std::to_string(n) + " items of this model");
  }
  try {
    torch::InferenceMode guard;
    impl_->net->eval();
    const auto cat = impl_->Upload(features);
    return ToVector(impl_->net->Inputs(cat.id_bucket, cat.attributes, cat.content));
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("PinSage input layer: ") + e.what_without_backtrace());
  }
}

Result<std::vector<float>> PinSage::ConvRows(size_t layer, const std::vector<float>& self,
                                             const std::vector<float>& neighbours, const std::vector<float>& importance,
                                             size_t t) {
  const int64_t h = config_.hidden_dim;
  const int64_t n = static_cast<int64_t>(self.size()) / h;
  if (layer >= static_cast<size_t>(config_.layers) || self.size() != static_cast<size_t>(n * h) ||
      neighbours.size() != static_cast<size_t>(n * h) * t || importance.size() != static_cast<size_t>(n) * t) {
    return Status::InvalidArgument("ConvRows: layer " + std::to_string(layer) + " of " +
                                   std::to_string(config_.layers) + ", or row arrays of mismatched sizes");
  }
  try {
    torch::InferenceMode guard;
    impl_->net->eval();
    const auto& d = impl_->device;
    const int64_t width = static_cast<int64_t>(t);
    const auto self_t = torch::from_blob(const_cast<float*>(self.data()), {n, h}, torch::kFloat32).to(d);
    const auto src = torch::from_blob(const_cast<float*>(neighbours.data()), {n * width, h}, torch::kFloat32).to(d);
    const auto imp = torch::from_blob(const_cast<float*>(importance.data()), {n, width}, torch::kFloat32).to(d);
    // Each output's neighbours are its own t consecutive rows of `src`.
    const auto index = torch::arange(n * width, torch::TensorOptions().dtype(torch::kInt64).device(d)).reshape({n, width});
    auto conv = impl_->net->convs[layer]->as<PinSageConv>();
    return ToVector(conv->forward(self_t, src, index, imp));
  } catch (const c10::Error& e) {
    return Status::Internal("PinSage layer " + std::to_string(layer) + ": " + e.what_without_backtrace());
  }
}

Result<std::vector<float>> PinSage::OutputRows(const std::vector<float>& hidden) {
  const int64_t h = config_.hidden_dim;
  if (hidden.size() % static_cast<size_t>(h) != 0) {
    return Status::InvalidArgument("OutputRows: rows are not hidden_dim wide");
  }
  try {
    torch::InferenceMode guard;
    impl_->net->eval();
    const int64_t n = static_cast<int64_t>(hidden.size()) / h;
    const auto rows = torch::from_blob(const_cast<float*>(hidden.data()), {n, h}, torch::kFloat32).to(impl_->device);
    return ToVector(impl_->net->Output(rows));
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("PinSage output layer: ") + e.what_without_backtrace());
  }
}

Status PinSage::Save(const std::string& path) const {
  try {
    torch::serialize::OutputArchive archive;
    impl_->net->save(archive);
    archive.save_to(path);
  } catch (const c10::Error& e) {
    return Status::IoError("saving the model to " + path + ": " + e.what_without_backtrace());
  }
  return Status::Ok();
}

Status PinSage::Load(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, impl_->device);
    impl_->net->load(archive);
  } catch (const c10::Error& e) {
    return Status::IoError("loading the model from " + path + ": " + e.what_without_backtrace());
  }
  return Status::Ok();
}

std::string PinSage::device() const { return impl_->device.str(); }

int64_t PinSage::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

}  // namespace recd::model
