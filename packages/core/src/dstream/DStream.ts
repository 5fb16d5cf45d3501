// The DStream and all its operators: each operator's file adds its method (see `defineOperator`
// in ./graph). Import DStream from here, not from ./graph, so that every method is there.
import './operators/map';
import './operators/filter';
import './operators/flatMap';
import './operators/mapPartitions';
import './operators/mapValues';
import './operators/flatMapValues';
import './operators/transform';
import './operators/pipe';
import './operators/union';
import './operators/count';
import './operators/countByValue';
import './operators/reduce';
import './operators/reduceByKey';
import './operators/groupByKey';
import './operators/join';
import './operators/leftOuterJoin';
import './operators/rightOuterJoin';
import './operators/fullOuterJoin';
import './operators/cogroup';
import './operators/window';
import './operators/countByWindow';
import './operators/reduceByWindow';
import './operators/reduceByKeyAndWindow';
import './operators/countByValueAndWindow';
import './operators/groupByKeyAndWindow';
import './operators/updateStateByKey';
import './operators/mapWithState';
import './operators/foreachBatch';
import './operators/print';
import './operators/saveAsTextFiles';
import './operators/batches$';

export { DStream, type DStreamNode, type PairKey, type PairValue } from './graph';
